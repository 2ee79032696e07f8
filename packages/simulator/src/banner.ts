import { DEFAULT_DEMO_KEYS, type ApiKeys } from './keys.ts';

/**
 * What `npm run simulator` prints: where it listens, the keys it accepts, and the variables
 * that point a tinkr-server at it. Printing the keys is fine: they open only this simulator
 * (the public demo keys, or the ones its operator chose with SIM_API_KEY / SIM_APP_KEY).
 */
export function simulatorBanner(url: string, keys: ApiKeys): string {
  const demo = keys.apiKey === DEFAULT_DEMO_KEYS.apiKey && keys.appKey === DEFAULT_DEMO_KEYS.appKey;
  const origin = demo ? 'the public demo keys; SIM_API_KEY and SIM_APP_KEY choose others' : 'from SIM_API_KEY and SIM_APP_KEY';
  return [
    `Datadog simulator listening on ${url}`,
    `Keys it accepts: DD_API_KEY=${keys.apiKey} DD_APP_KEY=${keys.appKey} (${origin})`,
    'Point tinkr-server at it with these variables (and TINKR_API_KEYS for your callers):',
    `  DD_API_URL=${url} DD_API_KEY=${keys.apiKey} DD_APP_KEY=${keys.appKey} TINKR_BACKEND=datadog`,
    '',
  ].join('\n');
}
