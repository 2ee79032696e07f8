import pino, { type Logger } from 'pino';

/** Top-level names that would hold a key, token or secret if anything ever logged one. */
const SECRET_FIELDS = ['apiKey', 'appKey', 'api_key', 'app_key', 'DD_API_KEY', 'DD_APP_KEY', 'token', 'secret', 'cursor_secret', 'password'];
/** Where credentials sit in a logged request or error with its headers attached. */
const HEADER_PATHS = ['req.headers.authorization', 'headers.authorization', 'headers["dd-api-key"]', 'headers["dd-application-key"]'];

/**
 * Paths that may hold a key or token if anything ever logs a request, a config or an error
 * with attached headers. The code logs none of these on purpose; this is the safety net, on
 * every line but the access line. Its wildcards (`*.token`) cost tens of µs a line.
 */
export const REDACT_PATHS = [
  ...HEADER_PATHS,
  '*.headers.authorization',
  '*.headers["dd-api-key"]',
  '*.headers["dd-application-key"]',
  ...SECRET_FIELDS,
  ...SECRET_FIELDS.map((field) => `*.${field}`),
];

/**
 * The access line's paths: exact ones only, a few µs a line. Its fields are fixed (server.ts)
 * and none holds a secret; these keep the net over its top level should one ever be added.
 */
export const ACCESS_REDACT_PATHS = [...HEADER_PATHS, ...SECRET_FIELDS];

const CENSOR = '[redacted]';

/** The logger of the one line per request: the server's, with the cheap redaction above. */
export function accessLogger(logger: Logger): Logger {
  return logger.child({}, { redact: { paths: ACCESS_REDACT_PATHS, censor: CENSOR } });
}

/** The server's JSON logger: one line per event, keys redacted. */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'tinkr-server' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: CENSOR },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}
