import { QUIRKY_INFO, SERVICES, type Env, type ServiceInfo } from './catalog.ts';
import { between, hashInts, pick } from './hash.ts';
import { spanIdFor, traceIdFor } from './ids.ts';

/**
 * Traces as a pure function of time. Time is cut into slots of TRACE_PERIOD_MS; slot `n` holds
 * exactly one trace that starts inside the slot and ends before the slot does, so every span
 * (and every log a span emits) of slot `n` lies in [n·P, (n+1)·P). Enumerating a time range is
 * therefore "generate the slots it covers", in either direction, with no stored state.
 */

/** One trace every 10 s: 8,640 traces and about 40k spans a day, enough to page through. */
export const TRACE_PERIOD_MS = 10_000;
/** Upper bound of a trace's duration; keeps a trace inside its slot (checked at generation). */
export const MAX_TRACE_MS = 2_000;
/** One trace in this many belongs to the quirky batch service (one every 5 minutes). */
export const QUIRKY_EVERY_SLOTS = 30;
const QUIRKY_REMAINDER = 4;
/** One trace in this many runs in `staging` instead of `prod`. */
export const STAGING_EVERY_SLOTS = 10;
const STAGING_REMAINDER = 7;

export type SpanKind = 'server' | 'client' | 'internal';
export type TraceTemplate = 'checkout' | 'cart' | 'refund' | 'batch';

export interface SpanError {
  readonly type: string;
  readonly message: string;
  readonly stack: string;
}

export interface SimSpan {
  readonly slot: number;
  /** Position in the trace in depth-first order; 0 is the root. */
  readonly index: number;
  readonly traceId: string;
  readonly spanId: string;
  /** Undefined for the root span. */
  readonly parentId: string | undefined;
  readonly service: ServiceInfo;
  readonly env: Env;
  readonly host: string;
  /** The operation name (`web.request`, `http.request`, `postgresql.query`, ...). */
  readonly name: string;
  readonly resource: string;
  readonly type: string;
  readonly kind: SpanKind;
  readonly startMs: number;
  /** Whole milliseconds, so `end - start` and `custom.duration` (ns) always agree. */
  readonly durationMs: number;
  readonly http: { readonly method: string; readonly statusCode: number; readonly url: string } | undefined;
  readonly error: SpanError | undefined;
  readonly peerService: string | undefined;
  readonly db: { readonly system: string; readonly statement: string } | undefined;
}

export interface SimTrace {
  readonly slot: number;
  readonly traceId: string;
  readonly template: TraceTemplate;
  readonly env: Env;
  readonly startMs: number;
  readonly endMs: number;
  readonly error: boolean;
  /** Depth-first order, root first. */
  readonly spans: readonly SimSpan[];
}

/** A span before it is laid out in time. */
interface Node {
  service: ServiceInfo;
  name: string;
  resource: string;
  type: string;
  kind: SpanKind;
  /** Own work before the first child and after the last one, in ms. */
  before: number;
  after: number;
  children: Node[];
  http?: { method: string; statusCode: number; url: string };
  error?: SpanError;
  peerService?: string;
  db?: { system: string; statement: string };
}

export function slotOf(ms: number): number {
  return Math.floor(ms / TRACE_PERIOD_MS);
}

export function templateOf(slot: number): TraceTemplate {
  if (slot % QUIRKY_EVERY_SLOTS === QUIRKY_REMAINDER) return 'batch';
  const roll = hashInts(slot, 1) % 100;
  if (roll < 60) return 'checkout';
  if (roll < 85) return 'cart';
  return 'refund';
}

export function envOf(slot: number): Env {
  return slot % STAGING_EVERY_SLOTS === STAGING_REMAINDER ? 'staging' : 'prod';
}

const traceCache = new Map<number, SimTrace>();
/** Traces are regenerated on demand; a small memo avoids rebuilding one per log and per span. */
const TRACE_CACHE_SIZE = 2_048;

/** The trace of `slot`. */
export function traceAt(slot: number): SimTrace {
  const cached = traceCache.get(slot);
  if (cached) return cached;
  const trace = buildTrace(slot);
  if (traceCache.size >= TRACE_CACHE_SIZE) traceCache.delete(traceCache.keys().next().value!);
  traceCache.set(slot, trace);
  return trace;
}

function buildTrace(slot: number): SimTrace {
  const template = templateOf(slot);
  const env = envOf(slot);
  const root = TEMPLATES[template](slot);
  const rootDuration = measure(root);
  if (rootDuration > MAX_TRACE_MS) throw new Error(`trace of slot ${slot} lasts ${rootDuration} ms > MAX_TRACE_MS`);
  const startMs = slot * TRACE_PERIOD_MS + between(hashInts(slot, 2), 0, TRACE_PERIOD_MS - MAX_TRACE_MS - 1);
  const traceId = traceIdFor(slot, startMs);
  const spans: SimSpan[] = [];
  layout(root, startMs, undefined, { slot, env, traceId, spans });
  return {
    slot,
    traceId,
    template,
    env,
    startMs,
    endMs: startMs + rootDuration,
    error: spans.some((s) => s.error !== undefined),
    spans,
  };
}

function measure(node: Node): number {
  let total = node.before + node.after;
  for (const child of node.children) total += measure(child) + CHILD_GAP_MS;
  return total;
}

/** Time between a child ending and the next sibling starting. */
const CHILD_GAP_MS = 1;

function layout(
  node: Node,
  startMs: number,
  parentId: string | undefined,
  ctx: { slot: number; env: Env; traceId: string; spans: SimSpan[] },
): void {
  const index = ctx.spans.length;
  const spanId = spanIdFor(ctx.slot, index);
  const hosts = node.service.hosts[ctx.env];
  const span: SimSpan = {
    slot: ctx.slot,
    index,
    traceId: ctx.traceId,
    spanId,
    parentId,
    service: node.service,
    env: ctx.env,
    host: pick(hashInts(ctx.slot, 3, hosts.length), hosts),
    name: node.name,
    resource: node.resource,
    type: node.type,
    kind: node.kind,
    startMs,
    durationMs: measure(node),
    http: node.http,
    error: node.error,
    peerService: node.peerService,
    db: node.db,
  };
  ctx.spans.push(span);
  let cursor = startMs + node.before;
  for (const child of node.children) {
    layout(child, cursor, spanId, ctx);
    cursor += measure(child) + CHILD_GAP_MS;
  }
}

function server(service: ServiceInfo, route: string, statusCode: number, before: number, after: number, children: Node[] = []): Node {
  const [method, path] = route.split(' ') as [string, string];
  return {
    service,
    name: 'web.request',
    resource: route,
    type: 'web',
    kind: 'server',
    before,
    after,
    children,
    http: { method, statusCode, url: `http://${service.name}:8080${path.replace('{id}', '4711')}` },
  };
}

function client(service: ServiceInfo, peer: ServiceInfo, route: string, statusCode: number, child: Node): Node {
  const [method, path] = route.split(' ') as [string, string];
  return {
    service,
    name: 'http.request',
    resource: route,
    type: 'http',
    kind: 'client',
    before: 1,
    after: 1,
    children: [child],
    http: { method, statusCode, url: `http://${peer.name}:8080${path.replace('{id}', '4711')}` },
    peerService: peer.name,
  };
}

function leaf(service: ServiceInfo, name: string, resource: string, type: string, durationMs: number, db?: Node['db']): Node {
  return { service, name, resource, type, kind: 'client', before: durationMs, after: 0, children: [], db };
}

const { checkout, 'payments-api': payments, ledger } = SERVICES;

/** Checkout → payments-api → ledger → postgres; one in ten fails at the database. */
function checkoutFlow(slot: number): Node {
  const h = (n: number): number => hashInts(slot, 10, n);
  const failed = h(0) % 10 === 0;
  const slow = h(1) % 40 === 0;
  const statement = 'INSERT INTO entries (account_id, amount_cents, currency) VALUES (?, ?, ?)';
  const db = leaf(ledger, 'postgresql.query', statement, 'sql', slow ? between(h(2), 300, 900) : between(h(2), 2, 15), {
    system: 'postgresql',
    statement,
  });
  if (failed) {
    db.error = {
      type: '*pq.Error',
      message: 'pq: duplicate key value violates unique constraint "entries_pkey"',
      stack: 'goroutine 42 [running]:\nledger/store.(*Store).Insert(...)\n\t/app/store/entries.go:88 +0x1f4',
    };
  }
  const ledgerWeb = server(ledger, 'POST /v1/entries', failed ? 500 : 201, between(h(3), 1, 3), between(h(4), 1, 3), [db]);
  if (failed) {
    ledgerWeb.error = { type: '*pq.Error', message: db.error!.message, stack: db.error!.stack };
  }
  const toLedger = client(payments, ledger, 'POST /v1/entries', failed ? 500 : 201, ledgerWeb);
  if (failed) {
    toLedger.error = {
      type: 'requests.exceptions.HTTPError',
      message: '500 Server Error: Internal Server Error for url: http://ledger:8080/v1/entries',
      stack: 'Traceback (most recent call last):\n  File "/app/payments/ledger_client.py", line 57, in record\n    response.raise_for_status()\nrequests.exceptions.HTTPError: 500 Server Error',
    };
  }
  const paymentsWeb = server(payments, 'POST /charge', failed ? 502 : 200, between(h(5), 3, 20), between(h(6), 2, 25), [toLedger]);
  if (failed) paymentsWeb.error = toLedger.error;
  const toPayments = client(checkout, payments, 'POST /charge', failed ? 502 : 200, paymentsWeb);
  if (failed) {
    toPayments.error = {
      type: 'Error',
      message: 'Request failed with status code 502',
      stack: 'Error: Request failed with status code 502\n    at settle (/app/node_modules/axios/lib/core/settle.js:19:12)',
    };
  }
  const root = server(checkout, 'POST /api/checkout', failed ? 502 : 200, between(h(7), 5, 40), between(h(8), 3, 30), [toPayments]);
  if (failed) root.error = toPayments.error;
  return root;
}

/** Checkout reads a cart from redis; one in twenty times redis times out. */
function cartFlow(slot: number): Node {
  const h = (n: number): number => hashInts(slot, 20, n);
  const failed = h(0) % 20 === 0;
  const redis = leaf(checkout, 'redis.command', 'GET', 'redis', failed ? 250 : between(h(1), 1, 4), {
    system: 'redis',
    statement: 'GET cart:4711',
  });
  if (failed) {
    redis.error = {
      type: 'TimeoutError',
      message: 'Redis command timed out after 250ms',
      stack: 'TimeoutError: Redis command timed out after 250ms\n    at Timeout._onTimeout (/app/node_modules/ioredis/built/Command.js:192:33)',
    };
  }
  const root = server(checkout, 'GET /api/cart', failed ? 503 : 200, between(h(2), 2, 10), between(h(3), 1, 8), [redis]);
  if (failed) root.error = redis.error;
  return root;
}

/** Payments-api looks up a balance in ledger; one in eight is a 404 (not an error span). */
function refundFlow(slot: number): Node {
  const h = (n: number): number => hashInts(slot, 30, n);
  const missing = h(0) % 8 === 0;
  const status = missing ? 404 : 200;
  const statement = 'SELECT balance_cents FROM balances WHERE account_id = ?';
  const db = leaf(ledger, 'postgresql.query', statement, 'sql', between(h(1), 1, 8), { system: 'postgresql', statement });
  const ledgerWeb = server(ledger, 'GET /v1/balance', status, between(h(2), 1, 3), between(h(3), 1, 2), [db]);
  const toLedger = client(payments, ledger, 'GET /v1/balance', status, ledgerWeb);
  return server(payments, 'GET /refunds/{id}', status, between(h(4), 2, 15), between(h(5), 1, 10), [toLedger]);
}

/** The quirky batch service runs a one-span job; one in five fails. */
function batchFlow(slot: number): Node {
  const h = (n: number): number => hashInts(slot, 40, n);
  const node: Node = {
    service: QUIRKY_INFO,
    name: 'batch.job',
    resource: 'reconcile "daily" totals',
    type: 'worker',
    kind: 'internal',
    before: between(h(1), 50, 900),
    after: 0,
    children: [],
  };
  if (h(0) % 5 === 0) {
    node.error = {
      type: 'ValueError',
      message: 'invalid amount: "12,50"',
      stack: 'Traceback (most recent call last):\n  File "/app/batch/reconcile.py", line 12, in run\nValueError: invalid amount: "12,50"',
    };
  }
  return node;
}

const TEMPLATES: Readonly<Record<TraceTemplate, (slot: number) => Node>> = {
  checkout: checkoutFlow,
  cart: cartFlow,
  refund: refundFlow,
  batch: batchFlow,
};
