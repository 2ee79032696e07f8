/**
 * How the image runs Node (the Dockerfile's `ENV`) and the `tinkr-server` command starts it
 * (bin/tinkr-server), so benchmarks and memory tests run the server as it ships.
 * test/container/image-steps.test.ts checks the Dockerfile against this, test/bin.test.ts the command.
 *
 * - `--max-semi-space-size=16`: V8 sizes its young generation from the host's memory (up to
 *   128 MiB on a large host) and keeps what it grew to; 16 MiB semi-spaces (V8's own default for
 *   ordinary hosts) hold RSS about 100 MiB lower after a burst of large answers, at the cost of
 *   a few more scavenges.
 * - `MALLOC_MMAP_THRESHOLD_=131072`: a fixed threshold keeps glibc from raising it as large
 *   buffers (cached answers, upstream bodies) are freed, so each large buffer is its own
 *   mapping and goes back to the system when freed instead of fragmenting the heap.
 */
export const SHIPPED_RUNTIME_ENV = {
  NODE_OPTIONS: '--max-semi-space-size=16',
  MALLOC_MMAP_THRESHOLD_: '131072',
} as const;
