import { Writable } from 'node:stream';
import type { Logger } from 'pino';
import { createLogger } from '../../src/logging.ts';

/** The server's real logger writing into memory: the raw text (to grep for secrets) and the parsed lines. */
export interface CapturedLog {
  logger: Logger;
  text(): string;
  lines(): Array<Record<string, unknown>>;
  /** Forgets what was written so far (between tests that share a server). */
  clear(): void;
}

export function capturedLog(level = 'info'): CapturedLog {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  const text = () => chunks.join('');
  return {
    logger: createLogger(level, sink),
    text,
    lines: () =>
      text()
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>),
    clear: () => {
      chunks.length = 0;
    },
  };
}
