import { describe, expect, it } from 'vitest';
import { permissionsOf } from '../../src/auth/roles.ts';
import { KNOWN_ROLES } from '../../src/config/schema.ts';

describe('permissionsOf', () => {
  it('lets every known role read, through inclusion', () => {
    for (const role of KNOWN_ROLES) expect([...permissionsOf([role])], role).toEqual(['read']);
  });

  it('gives nothing to a key without roles', () => {
    expect(permissionsOf([]).size).toBe(0);
  });
});
