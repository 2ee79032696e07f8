import { Socket } from 'node:net';

/**
 * Refuses any outgoing connection that is not to loopback, and remembers it, so a test can
 * assert that no SDK reached for IMDS (169.254.169.254), a metadata host or a real cloud
 * endpoint. Patching Socket.prototype.connect catches http, https, http2 (gRPC) and raw net.
 */
export interface LoopbackGuard {
  readonly violations: string[];
  uninstall(): void;
}

/** How a child process preloading the guard reports what it refused (test/fixtures/loopback-guard-preload.ts). */
export const VIOLATIONS_MARKER = 'LOOPBACK_GUARD_VIOLATIONS';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

function targetOf(args: unknown[]): string | undefined {
  const first = Array.isArray(args[0]) ? (args[0] as unknown[])[0] : args[0];
  if (typeof first === 'object' && first !== null) {
    const options = first as { host?: unknown; path?: unknown; port?: unknown };
    if (typeof options.path === 'string') return undefined; // a unix socket or pipe
    return typeof options.host === 'string' ? `${options.host}:${String(options.port)}` : undefined;
  }
  if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    return typeof args[1] === 'string' ? `${args[1]}:${String(first)}` : undefined;
  }
  return undefined;
}

export function installLoopbackGuard(): LoopbackGuard {
  const violations: string[] = [];
  const original = Socket.prototype.connect;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const guarded = function (this: Socket, ...args: unknown[]): Socket {
    const target = targetOf(args);
    const host = target?.slice(0, target.lastIndexOf(':'));
    if (host !== undefined && !LOOPBACK.has(host)) {
      violations.push(target ?? '');
      process.nextTick(() => this.destroy(new Error(`test guard: connection to non-loopback ${target} refused`)));
      return this;
    }
    return (original as (...a: unknown[]) => Socket).apply(this, args);
  };
  Socket.prototype.connect = guarded as typeof Socket.prototype.connect;
  return {
    violations,
    uninstall: () => {
      Socket.prototype.connect = original;
    },
  };
}
