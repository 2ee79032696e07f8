import { ArmedSet } from './armed-set.ts';
import { baseTags, QUIRKY_INFO, SERVICES, type Env, type ServiceInfo, type ServiceName } from './catalog.ts';
import { hashInts } from './hash.ts';
import { parseStagedWindow } from './staged-window.ts';
import { TRACE_PERIOD_MS } from './traces.ts';
import { eventId, isoMs, type LogEvent, type Timed } from '../wire.ts';

/**
 * Injected error bursts: extra error logs of one service over a window, so tests and demos can
 * stage an incident on demand (the generated logs have a steady error rate). Like the rest of the
 * data they are a function of time, given the armed bursts: one log every `everyMs` from
 * `fromMs` (inclusive) to `toMs` (exclusive), visible once its timestamp has passed, found by
 * searches and aggregates alike. Their messages follow two templates with varying numbers, so a
 * pattern summary has something to fold.
 */
export interface ErrorBurst {
  service: string;
  fromMs: number;
  toMs: number;
  /** One log every this many ms; default 1000. */
  everyMs?: number;
  /** Raw status of the logs; default `error`. */
  status?: string;
  /** Default `prod`. */
  env?: Env;
}

/** Bursts armed at once; a runaway test fails loudly rather than slowing every scan. */
export const MAX_BURSTS = 100;
/** The densest burst: 1,000 logs per 10-second slot. */
export const MIN_BURST_EVERY_MS = 10;
const DEFAULT_EVERY_MS = 1_000;
const BURST_ID_VERSION = 2;
/** Keeps burst log ids apart from generated ones of the same slot (whose sequence stays small). */
const SEQ_BASE = 1_000_000;

const TEMPLATES: ReadonlyArray<(n: number) => { message: string; kind: string; detail: string }> = [
  (n) => ({
    message: `payment processor declined charge ${100000 + n} for order ${40000 + (n % 9000)}: card_declined (code 51)`,
    kind: 'CardDeclinedError',
    detail: 'card_declined',
  }),
  (n) => ({
    message: `upstream 10.0.3.${10 + (n % 200)}:8443 refused connection after ${2 + (n % 3)} retries`,
    kind: 'ConnectionRefusedError',
    detail: 'connection refused',
  }),
];

/** Checks a burst given as JSON (control endpoint) or in code; throws a TypeError naming the problem. */
export function parseBurst(input: unknown): Required<ErrorBurst> {
  const { window, fields: b } = parseStagedWindow(input, 'burst', 'a burst');
  const everyMs = b['everyMs'] ?? DEFAULT_EVERY_MS;
  if (typeof everyMs !== 'number' || !Number.isInteger(everyMs) || everyMs < MIN_BURST_EVERY_MS) {
    throw new TypeError(`burst.everyMs must be an integer of at least ${MIN_BURST_EVERY_MS}`);
  }
  const status = b['status'] ?? 'error';
  if (typeof status !== 'string' || status === '') throw new TypeError('burst.status must be a string');
  return { ...window, everyMs, status };
}

export class BurstSet extends ArmedSet<Required<ErrorBurst>> {
  constructor() {
    super(parseBurst, MAX_BURSTS, 'bursts');
  }

  /** The burst logs of `slot` that exist at `nowMs`, unsorted. */
  logsInSlot(slot: number, nowMs: number): Timed<LogEvent>[] {
    const out: Timed<LogEvent>[] = [];
    const slotStart = slot * TRACE_PERIOD_MS;
    const slotEnd = slotStart + TRACE_PERIOD_MS;
    this.armed.forEach((burst, b) => {
      const from = Math.max(burst.fromMs, slotStart);
      const to = Math.min(burst.toMs, slotEnd, nowMs + 1);
      if (from >= to) return;
      let k = Math.ceil((from - burst.fromMs) / burst.everyMs);
      for (let ms = burst.fromMs + k * burst.everyMs; ms < to; ms += burst.everyMs, k++) {
        // Within a burst the timestamp tells logs apart; the sequence tells bursts apart.
        const event = burstLog(burst, ms, slot, SEQ_BASE + b, k);
        out.push({ ms, id: event.id, event });
      }
    });
    return out;
  }
}

function serviceInfo(name: string): ServiceInfo {
  if (name === QUIRKY_INFO.name) return QUIRKY_INFO;
  const known = (SERVICES as Readonly<Record<string, ServiceInfo>>)[name];
  return known ?? { ...SERVICES['payments-api' as ServiceName], name, logger: name };
}

function burstLog(burst: Required<ErrorBurst>, ms: number, slot: number, seq: number, k: number): LogEvent {
  const info = serviceInfo(burst.service);
  const n = hashInts(burst.fromMs, k) % 10_007;
  const template = TEMPLATES[k % TEMPLATES.length]!(n);
  const host = info.hosts[burst.env][k % info.hosts[burst.env].length]!;
  return {
    id: eventId(BURST_ID_VERSION, ms, slot, seq),
    type: 'log',
    attributes: {
      timestamp: isoMs(ms),
      host,
      service: info.name,
      status: burst.status,
      message: template.message,
      tags: [...baseTags(info, burst.env, host), `source:${info.source}`],
      attributes: {
        error: { kind: template.kind, message: template.detail, stack: `${template.kind}: ${template.detail}\n    at charge (/app/payments/charge.py:88)` },
        logger: { name: info.logger },
      },
    },
  };
}
