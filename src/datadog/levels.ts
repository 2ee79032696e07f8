/**
 * Log levels. Datadog keeps each log's raw `status`; callers see one of five levels (docs/http-api.md#get-logs).
 */
export const LEVELS = ['debug', 'info', 'warn', 'error', 'critical'] as const;
export type Level = (typeof LEVELS)[number];

/** Every raw status that normalizes to each level; also what a level filter searches for. */
export const STATUSES_OF_LEVEL: Readonly<Record<Level, readonly string[]>> = {
  critical: ['emerg', 'emergency', 'alert', 'critical', 'fatal'],
  error: ['error'],
  warn: ['warn', 'warning'],
  info: ['info', 'notice', 'ok'],
  debug: ['debug', 'trace'],
};

const LEVEL_OF_STATUS = new Map<string, Level>(
  LEVELS.flatMap((level) => STATUSES_OF_LEVEL[level].map((status) => [status, level] as const)),
);

/** The level of a raw status; unknown or missing statuses count as info, as Datadog shows them. */
export function levelOf(status: string | undefined): Level {
  return (status && LEVEL_OF_STATUS.get(status.toLowerCase())) || 'info';
}

export function isLevel(value: string): value is Level {
  return (LEVELS as readonly string[]).includes(value);
}

/** The raw statuses to search for a set of levels, in a stable order. */
export function statusesFor(levels: readonly Level[]): string[] {
  return LEVELS.filter((l) => levels.includes(l)).flatMap((l) => STATUSES_OF_LEVEL[l]);
}
