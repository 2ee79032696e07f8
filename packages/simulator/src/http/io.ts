import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Reply } from './reply.ts';

/** Largest request body read; Datadog search bodies are a few hundred bytes. */
export const MAX_BODY_BYTES = 1_048_576;

export class BodyTooLarge extends Error {}

export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new BodyTooLarge(`request body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Parsed JSON, the raw text when it is not JSON, undefined when empty. */
export function parseBody(text: string): { value: unknown; json: boolean } {
  if (text.trim() === '') return { value: undefined, json: true };
  try {
    return { value: JSON.parse(text), json: true };
  } catch {
    return { value: text, json: false };
  }
}

export function flatHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

export function flatQuery(url: URL): Record<string, string> {
  return Object.fromEntries(url.searchParams);
}

export function serialise(reply: Reply): string {
  return typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
}

export function send(res: ServerResponse, reply: Reply, text = serialise(reply)): void {
  if (res.destroyed || res.headersSent) return;
  res.writeHead(reply.status, {
    ...reply.headers,
    'content-type': reply.contentType,
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}
