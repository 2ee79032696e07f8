import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Tests start real servers and child processes on loopback; give them room on a shared
    // machine. Above the inner bounds (a child's start is allowed 60 s, readiness 30 s), so a
    // slow machine meets those, with their clearer messages, before this backstop.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
