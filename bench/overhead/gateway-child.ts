/**
 * The server under test, in a process of its own: booted as `tinkr-server` boots from the
 * environment (loadConfig → startServer, every setting at its shipped default), logging to
 * stdout as in production (the benchmark points stdout at a file). Run with `--expose-gc` and
 * an IPC channel. Messages:
 *
 *   {type:"cpu"}    → {type:"cpu", userUs, systemUs}            process.cpuUsage() so far
 *   {type:"memory"} → {type:"memory", rss, heapUsed, external, arrayBuffers, maxRss}
 *                     after two forced full GCs; maxRss is the peak resident set so far
 *   {type:"close"}  → drains and exits 0
 *
 * On start it sends {type:"listening", url, pid}.
 *
 * Argument `--no-near-copies` (the replicas benchmark): with Redis, keep no near copies of shared
 * answers, so that every hit reads its answer from Redis (StartOptions.nearCopies).
 */
import { homedir } from 'node:os';
import { startServer } from '../../src/boot.ts';
import { parseCommandLine } from '../../src/config/args.ts';
import { loadConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/logging.ts';
import { serveProbes } from './probe.ts';

const config = loadConfig({ args: parseCommandLine([]), env: process.env, homeDir: homedir(), cwd: process.cwd() });
const nearCopies = !process.argv.slice(2).includes('--no-near-copies');
const running = await startServer(config, { logger: createLogger(config.logLevel), ...(nearCopies ? {} : { nearCopies: false }) });
serveProbes({ url: running.url, close: () => running.close() });
