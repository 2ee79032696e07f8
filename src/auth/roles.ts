import type { Role } from '../config/schema.ts';

/**
 * What each role allows. Every route of this server reads, so `read` is the only permission
 * today; the table is where a write permission (Tinkr's approve, watches) would go.
 * `oncall` includes `viewer` and `sre-lead` includes `oncall`, as in Tinkr's docs.
 */
export const PERMISSIONS = ['read'] as const;
export type Permission = (typeof PERMISSIONS)[number];

const GRANTS: Readonly<Record<Role, { includes: readonly Role[]; grants: readonly Permission[] }>> = {
  viewer: { includes: [], grants: ['read'] },
  oncall: { includes: ['viewer'], grants: [] },
  'sre-lead': { includes: ['oncall'], grants: [] },
};

/** Every permission the roles give, following inclusions. */
export function permissionsOf(roles: readonly Role[]): ReadonlySet<Permission> {
  const out = new Set<Permission>();
  const seen = new Set<Role>();
  const visit = (role: Role): void => {
    if (seen.has(role)) return;
    seen.add(role);
    for (const p of GRANTS[role].grants) out.add(p);
    for (const r of GRANTS[role].includes) visit(r);
  };
  roles.forEach(visit);
  return out;
}
