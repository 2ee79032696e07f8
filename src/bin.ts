#!/usr/bin/env node
/**
 * What the `tinkr-server` command runs (bin/tinkr-server, which adds the memory settings, and the
 * image's ENTRYPOINT, which has them in its environment). It checks the Node version first and exits
 * 78 naming the required one, because on an older Node the server fails while its modules load
 * (`failed to start: TypeError`, from undici). An ES module evaluates all its static imports
 * before its own body, so this file has none: the guard and then the server are loaded with
 * dynamic imports, in that order.
 */

/** EX_CONFIG: the runtime is part of the configuration the operator got wrong. */
const EXIT_CONFIG = 78;

import('./node-guard.ts')
  .then(({ unsupportedNode }) => {
    const problem = unsupportedNode(process.versions.node);
    if (problem !== undefined) {
      process.stderr.write(`${problem}\n`);
      process.exit(EXIT_CONFIG);
    }
    return import('./main.ts');
  })
  .catch((error: unknown) => {
    // A module that failed to load; main.ts reports everything after that itself.
    process.stderr.write(`tinkr-server: failed to start: ${error instanceof Error ? error.name : 'error'}\n`);
    process.exit(1);
  });
