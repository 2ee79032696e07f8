import { z } from 'zod';
import { must, strictParams } from './common.ts';
import { logFilterOf, logsParams } from './routes.ts';

/** `GET /logs/tail` (docs/live-tail.md): the filters of `GET /logs`, and how many past lines to send first. */

/** Most past lines a new subscriber may ask for: what a stream's replay buffer holds. */
export const MAX_TAIL_BACKLOG = 1000;

const BACKLOG_RULE = must('limit', `0–${MAX_TAIL_BACKLOG} (a whole number)`);

/**
 * Its own parameter list, so an unknown parameter is named against this route's parameters;
 * read into the logs it follows and the past lines to send first.
 */
export const tailQuerySchema = strictParams({
  service: logsParams.service,
  query: logsParams.query,
  level: logsParams.level,
  limit: z.coerce
    .number({ error: BACKLOG_RULE })
    .int(BACKLOG_RULE)
    .min(0, BACKLOG_RULE)
    .max(MAX_TAIL_BACKLOG, BACKLOG_RULE)
    .default(0)
    .describe(`Send up to this many of the latest lines (from the last 15 minutes) before the new ones; 0-${MAX_TAIL_BACKLOG}, default 0.`),
}).transform((q) => ({ filter: logFilterOf(q), backlog: q.limit }));

export const tailEventStream = z
  .string()
  .describe(
    'Server-sent events. `event: log` (`id:` the log id, `data:` the log as in GET /logs), `event: warning` (`data: {code, message}`: a poll failed or was held back; the stream goes on), `event: end` (`data: {reason, message}`: lifetime, shutdown), and `: keep-alive` comments every 15 s.',
  );
