/**
 * The IPC side of a measured child process (gateway-child.ts, bare-child.ts): it answers the
 * benchmark's questions about its own CPU time and memory, so what is measured is that process
 * alone, never the load generator's or the simulator's work.
 */

export interface CpuSample {
  type: 'cpu';
  userUs: number;
  systemUs: number;
}

export interface MemorySample {
  type: 'memory';
  rss: number;
  /** V8 heap reserved (used or not) and in use. */
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  /** Peak resident set since the process started, bytes. */
  maxRss: number;
}

export interface Listening {
  type: 'listening';
  url: string;
  pid: number;
}

/** Answers `cpu`, `memory` and `close` messages; announces `listening`. Needs an IPC channel. */
export function serveProbes(target: { url: string; close(): Promise<void> }): void {
  const send = process.send?.bind(process);
  if (!send) throw new Error('run with an IPC channel');
  const gc = (globalThis as { gc?: () => void }).gc;
  process.on('message', (message: { type?: string }) => {
    if (message.type === 'cpu') {
      const { user, system } = process.cpuUsage();
      send({ type: 'cpu', userUs: user, systemUs: system } satisfies CpuSample);
    } else if (message.type === 'memory') {
      // Twice: the first pass can leave garbage that only finalizers of the first released.
      gc?.();
      gc?.();
      const { rss, heapTotal, heapUsed, external, arrayBuffers } = process.memoryUsage();
      send({ type: 'memory', rss, heapTotal, heapUsed, external, arrayBuffers, maxRss: process.resourceUsage().maxRSS * 1024 } satisfies MemorySample);
    } else if (message.type === 'close') {
      void target.close().then(() => process.exit(0));
    }
  });
  send({ type: 'listening', url: target.url, pid: process.pid } satisfies Listening);
}
