/** The benchmarks and the tests share one free-port helper. */
export { freePort } from '../../bench/lib/free-port.ts';
