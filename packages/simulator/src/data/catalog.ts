/**
 * The synthetic estate the simulator serves: three services in `prod` (and a smaller `staging`
 * copy), their hosts, versions and HTTP routes. Everything else (traces, logs, metrics) is derived
 * from this table, so names used by tests and the demo live here only.
 */

export const ENVS = ['prod', 'staging'] as const;
export type Env = (typeof ENVS)[number];

export const SERVICE_NAMES = ['checkout', 'payments-api', 'ledger'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

/**
 * A service whose name needs every escape the search syntax has (quotes, spaces, a colon, a
 * backslash). It runs one batch job every few minutes, so tests of query quoting have real data
 * to find; it is not part of the request flow and has no metrics.
 */
export const QUIRKY_SERVICE = 'batch "nightly" jobs:eu\\west';

export interface ServiceInfo {
  readonly name: string;
  readonly language: 'nodejs' | 'python' | 'go';
  /** `source:` tag of its logs (Datadog's integration pipeline name). */
  readonly source: string;
  readonly team: string;
  readonly version: Readonly<Record<Env, string>>;
  readonly hosts: Readonly<Record<Env, readonly string[]>>;
  /** Logger name seen in `attributes.logger.name`. */
  readonly logger: string;
}

export const SERVICES: Readonly<Record<ServiceName, ServiceInfo>> = {
  checkout: {
    name: 'checkout',
    language: 'nodejs',
    source: 'nodejs',
    team: 'storefront',
    version: { prod: '2.7.0', staging: '2.8.0-rc.2' },
    hosts: { prod: ['ip-10-0-1-12', 'ip-10-0-1-13'], staging: ['ip-10-1-1-12'] },
    logger: 'checkout.http',
  },
  'payments-api': {
    name: 'payments-api',
    language: 'python',
    source: 'python',
    team: 'payments',
    version: { prod: '1.4.2', staging: '1.5.0-rc.1' },
    hosts: { prod: ['ip-10-0-1-7', 'ip-10-0-1-8'], staging: ['ip-10-1-1-7'] },
    logger: 'payments.api',
  },
  ledger: {
    name: 'ledger',
    language: 'go',
    source: 'go',
    team: 'payments',
    version: { prod: '0.9.12', staging: '0.10.0' },
    hosts: { prod: ['ip-10-0-2-21', 'ip-10-0-2-22'], staging: ['ip-10-1-2-21'] },
    logger: 'ledger/server',
  },
};

export const QUIRKY_INFO: ServiceInfo = {
  name: QUIRKY_SERVICE,
  language: 'python',
  source: 'python',
  team: 'data',
  version: { prod: '3.1.0', staging: '3.1.0' },
  hosts: { prod: ['ip-10-0-3-5'], staging: ['ip-10-1-3-5'] },
  logger: 'batch.runner',
};

/** HTTP routes each service serves (the `resource_name` of its `web.request` spans). */
export const ROUTES: Readonly<Record<ServiceName, readonly string[]>> = {
  checkout: ['POST /api/checkout', 'GET /api/cart'],
  'payments-api': ['POST /charge', 'GET /refunds/{id}'],
  ledger: ['POST /v1/entries', 'GET /v1/balance'],
};

/** Standard tags Datadog attaches to everything a service emits. */
export function baseTags(info: ServiceInfo, env: Env, host: string): string[] {
  return [`env:${env}`, `service:${info.name}`, `version:${info.version[env]}`, `host:${host}`, `team:${info.team}`];
}
