import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the listener serves: the exporter's exposition text. */
export interface MetricsSource {
  metrics(): Promise<string>;
  readonly contentType: string;
}

export interface MetricsListener {
  /** e.g. `http://127.0.0.1:9464/metrics`. */
  url: string;
  /** Stops listening and closes scrapers' keep-alive connections; safe to call twice. */
  close(): Promise<void>;
}

/** A scrape that has not sent its headers by then is dropped; Prometheus sends them at once. */
const HEADERS_TIMEOUT_MS = 10_000;

/**
 * `GET /metrics` on its own port, apart from the API (whose `/metrics` is the Datadog metrics
 * route). Plain node:http, so it keeps answering while the API sheds load or drains, and so it
 * has no auth, CORS or request-id machinery: it is meant for a private network only.
 */
export async function startMetricsListener(source: MetricsSource, listen: { host: string; port: number }): Promise<MetricsListener> {
  const server = createServer({ headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: HEADERS_TIMEOUT_MS }, (req, res) => {
    void handle(source, req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = listen.host === '0.0.0.0' || listen.host === '::' ? '127.0.0.1' : listen.host;
  let closed: Promise<void> | undefined;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/metrics`,
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Prometheus keeps its scrape connection open between scrapes; do not wait for it.
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

async function handle(source: MetricsSource, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (path !== '/metrics') return text(res, 404, 'not found; the metrics are at /metrics\n');
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    return text(res, 405, 'method not allowed\n');
  }
  let body: string;
  try {
    body = await source.metrics();
  } catch {
    return text(res, 500, 'collecting the metrics failed\n');
  }
  res.writeHead(200, { 'content-type': source.contentType, 'cache-control': 'no-store' });
  res.end(req.method === 'HEAD' ? undefined : body);
}

function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(body);
}
