import { describe, expect, it } from 'vitest';
import { levelOf, statusesFor } from '../../src/datadog/levels.ts';

describe('levels', () => {
  it.each([
    ['emerg', 'critical'],
    ['emergency', 'critical'],
    ['alert', 'critical'],
    ['CRITICAL', 'critical'],
    ['fatal', 'critical'],
    ['error', 'error'],
    ['warn', 'warn'],
    ['Warning', 'warn'],
    ['notice', 'info'],
    ['info', 'info'],
    ['ok', 'info'],
    ['debug', 'debug'],
    ['trace', 'debug'],
    ['something-else', 'info'],
    [undefined, 'info'],
  ])('%s → %s', (status, level) => {
    expect(levelOf(status)).toBe(level);
  });

  it('searches every raw status of the chosen levels', () => {
    expect(statusesFor(['critical', 'warn'])).toEqual(['warn', 'warning', 'emerg', 'emergency', 'alert', 'critical', 'fatal']);
    for (const status of statusesFor(['info'])) expect(levelOf(status)).toBe('info');
  });
});
