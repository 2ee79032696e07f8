import { z } from 'zod';
import { logsQuerySchema } from './routes.ts';

/** `GET /logs/tail` (DESIGN §8.3): the filters of `GET /logs`, and how many past lines to send first. */

/** Most past lines a new subscriber may ask for: what a stream's replay buffer holds. */
export const MAX_TAIL_BACKLOG = 1000;

export const tailQuerySchema = logsQuerySchema
  .pick({ service: true, query: true, level: true })
  .extend({
    limit: z.coerce
      .number()
      .int()
      .min(0)
      .max(MAX_TAIL_BACKLOG)
      .default(0)
      .describe(`Send up to this many of the latest lines (from the last 15 minutes) before the new ones; 0-${MAX_TAIL_BACKLOG}, default 0.`),
  })
  .strict();

export const tailEventStream = z
  .string()
  .describe(
    'Server-sent events. `event: log` (`id:` the log id, `data:` the log as in GET /logs), `event: warning` (`data: {code, message}`: a poll failed or was held back; the stream goes on), `event: end` (`data: {reason, message}`: lifetime, shutdown), and `: keep-alive` comments every 15 s.',
  );
