import pino, { type Logger } from 'pino';

/**
 * Paths that may hold a key or token if anything ever logs a request, a config or an error
 * with attached headers. The code logs none of these on purpose; this is the safety net.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'headers.authorization',
  '*.headers.authorization',
  '*.headers["dd-api-key"]',
  '*.headers["dd-application-key"]',
  'headers["dd-api-key"]',
  'headers["dd-application-key"]',
  'apiKey',
  'appKey',
  '*.apiKey',
  '*.appKey',
  'api_key',
  'app_key',
  '*.api_key',
  '*.app_key',
  'DD_API_KEY',
  'DD_APP_KEY',
  '*.DD_API_KEY',
  '*.DD_APP_KEY',
  'token',
  '*.token',
  'secret',
  '*.secret',
  'cursor_secret',
  '*.cursor_secret',
  'password',
  '*.password',
];

/** The server's JSON logger: one line per event, keys redacted. */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'tinkr-server' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}
