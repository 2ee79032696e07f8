/**
 * The reference for a cache hit, in a process of its own: the least a Node HTTP server can do
 * for the same answer. Fastify, one route, no hooks, no auth, no schema, no logging; the body
 * (read once from the JSON file named by argv[2]) is serialised with JSON.stringify on every
 * request, as Fastify does for a route that returns an object. IPC as in probe.ts.
 */
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';
import { serveProbes } from './probe.ts';

const file = process.argv[2];
const path = process.argv[3] ?? '/logs';
if (!file) throw new Error('usage: node bench/overhead/bare-child.ts <body.json> [path]');
const body = JSON.parse(readFileSync(file, 'utf8')) as unknown;

const app = Fastify({ logger: false });
app.get(path, async () => body);
await app.listen({ host: '127.0.0.1', port: 0 });
const address = app.server.address();
const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
serveProbes({ url, close: () => app.close() });
