import { readFilter } from '../handlers/search-input.ts';
import { LOGS_STORAGE_TIERS, type LogsStorageTier } from '../wire.ts';

/**
 * The bodies of `POST /api/v2/logs/analytics/aggregate` (`LogsAggregateRequest`) and
 * `POST /api/v2/spans/analytics/aggregate` (`SpansAggregateRequest`), read into one shape with
 * Datadog's defaults. Errors are messages naming the field, as a 400 would.
 */

export const AGGREGATIONS = ['count', 'cardinality', 'pc75', 'pc90', 'pc95', 'pc98', 'pc99', 'sum', 'min', 'max', 'avg', 'median'] as const;
export type Aggregation = (typeof AGGREGATIONS)[number];

export interface ComputeSpec {
  aggregation: Aggregation;
  type: 'total' | 'timeseries';
  /** The field measured (`@duration`); ignored by `count`. */
  metric: string | undefined;
  /** Bucket width of a timeseries as sent (`1m`); undefined: about 150 points over the range. */
  interval: string | undefined;
}

export interface SortSpec {
  type: 'alphabetical' | 'measure';
  order: 'asc' | 'desc';
  aggregation: Aggregation;
  metric: string | undefined;
}

export interface GroupBySpec {
  facet: string;
  limit: number;
  sort: SortSpec;
  /** The value events without the facet are grouped under; undefined: they are left out. */
  missing: string | number | undefined;
}

export interface AggregateInput {
  query: string;
  from: string;
  to: string;
  indexes: string[];
  storageTier: LogsStorageTier;
  computes: ComputeSpec[];
  groupBy: GroupBySpec[];
}

/** `group_by.limit` default, and Datadog's bound on the product of the limits of all facets. */
export const DEFAULT_GROUP_LIMIT = 10;
export const MAX_GROUP_BUCKETS = 10_000;
/** Computes and facets in one request: far more than any panel uses; bounds the work. */
const MAX_COMPUTES = 10;
const MAX_FACETS = 4;

type Obj = Record<string, unknown>;

function isObject(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isAggregation(value: unknown): value is Aggregation {
  return (AGGREGATIONS as readonly unknown[]).includes(value);
}

export function logsAggregateInput(body: unknown): AggregateInput | string {
  if (!isObject(body)) return 'Invalid request body: expected a JSON object';
  const filter = body['filter'] ?? {};
  if (!isObject(filter)) return 'filter must be an object';
  const indexes = filter['indexes'] ?? ['*'];
  if (!Array.isArray(indexes) || indexes.some((i) => typeof i !== 'string')) return 'filter.indexes must be an array of strings';
  const tier = filter['storage_tier'] ?? 'indexes';
  if (!(LOGS_STORAGE_TIERS as readonly unknown[]).includes(tier)) return `filter.storage_tier must be one of ${LOGS_STORAGE_TIERS.join(', ')}`;
  return readCommon(body, filter, '', { indexes: indexes as string[], storageTier: tier as LogsStorageTier });
}

export function spansAggregateInput(body: unknown): AggregateInput | string {
  if (!isObject(body)) return 'Invalid request body: expected a JSON object';
  const data = body['data'];
  if (!isObject(data)) return 'data must be an object';
  if (data['type'] !== undefined && data['type'] !== 'aggregate_request') return 'data.type must be aggregate_request';
  const attributes = data['attributes'] ?? {};
  if (!isObject(attributes)) return 'data.attributes must be an object';
  const filter = attributes['filter'] ?? {};
  if (!isObject(filter)) return 'data.attributes.filter must be an object';
  return readCommon(attributes, filter, 'data.attributes.', { indexes: ['*'], storageTier: 'indexes' });
}

function readCommon(
  holder: Obj,
  filter: Obj,
  prefix: string,
  where: { indexes: string[]; storageTier: LogsStorageTier },
): AggregateInput | string {
  const range = readFilter(filter, prefix);
  if (typeof range === 'string') return range;
  const { query, from, to } = range;

  const rawComputes = holder['compute'] ?? [{ aggregation: 'count' }];
  if (!Array.isArray(rawComputes) || rawComputes.length === 0) return `${prefix}compute must be a non-empty array`;
  if (rawComputes.length > MAX_COMPUTES) return `${prefix}compute: at most ${MAX_COMPUTES} computes`;
  const computes: ComputeSpec[] = [];
  for (const [i, raw] of rawComputes.entries()) {
    const compute = readCompute(raw, `${prefix}compute[${i}]`);
    if (typeof compute === 'string') return compute;
    computes.push(compute);
  }

  const rawGroups = holder['group_by'] ?? [];
  if (!Array.isArray(rawGroups)) return `${prefix}group_by must be an array`;
  if (rawGroups.length > MAX_FACETS) return `${prefix}group_by: at most ${MAX_FACETS} facets`;
  const groupBy: GroupBySpec[] = [];
  let product = 1;
  for (const [i, raw] of rawGroups.entries()) {
    const group = readGroupBy(raw, `${prefix}group_by[${i}]`);
    if (typeof group === 'string') return group;
    product *= group.limit;
    groupBy.push(group);
  }
  if (product > MAX_GROUP_BUCKETS) return `${prefix}group_by: the product of the limits must not exceed ${MAX_GROUP_BUCKETS}`;
  return { query, from, to, ...where, computes, groupBy };
}

function readCompute(raw: unknown, path: string): ComputeSpec | string {
  if (!isObject(raw)) return `${path} must be an object`;
  const aggregation = raw['aggregation'];
  if (!isAggregation(aggregation)) return `${path}.aggregation must be one of ${AGGREGATIONS.join(', ')}`;
  const type = raw['type'] ?? 'total';
  if (type !== 'total' && type !== 'timeseries') return `${path}.type must be timeseries or total`;
  const metric = raw['metric'];
  if (metric !== undefined && typeof metric !== 'string') return `${path}.metric must be a string`;
  if (aggregation !== 'count' && (metric === undefined || metric === '')) return `${path}.metric is required for aggregation ${aggregation}`;
  const interval = raw['interval'];
  if (interval !== undefined && typeof interval !== 'string') return `${path}.interval must be a string`;
  return { aggregation, type, metric, interval };
}

function readGroupBy(raw: unknown, path: string): GroupBySpec | string {
  if (!isObject(raw)) return `${path} must be an object`;
  const facet = raw['facet'];
  if (typeof facet !== 'string' || facet === '') return `${path}.facet is required`;
  if (raw['histogram'] !== undefined) return `${path}.histogram is not supported by this simulator`;
  if (raw['total'] !== undefined && raw['total'] !== false) return `${path}.total is not supported by this simulator`;
  const limit = raw['limit'] ?? DEFAULT_GROUP_LIMIT;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1) return `${path}.limit must be a positive integer`;
  if (limit > MAX_GROUP_BUCKETS) return `${path}.limit must be at most ${MAX_GROUP_BUCKETS}`;
  const missing = raw['missing'];
  if (missing !== undefined && typeof missing !== 'string' && typeof missing !== 'number') return `${path}.missing must be a string or a number`;
  const sort = readSort(raw['sort'], `${path}.sort`);
  if (typeof sort === 'string') return sort;
  return { facet, limit, sort, missing };
}

function readSort(raw: unknown, path: string): SortSpec | string {
  if (raw === undefined) return { type: 'alphabetical', order: 'asc', aggregation: 'count', metric: undefined };
  if (!isObject(raw)) return `${path} must be an object`;
  const type = raw['type'] ?? 'alphabetical';
  if (type !== 'alphabetical' && type !== 'measure') return `${path}.type must be alphabetical or measure`;
  const order = raw['order'] ?? (type === 'measure' ? 'desc' : 'asc');
  if (order !== 'asc' && order !== 'desc') return `${path}.order must be asc or desc`;
  const aggregation = raw['aggregation'] ?? 'count';
  if (!isAggregation(aggregation)) return `${path}.aggregation must be one of ${AGGREGATIONS.join(', ')}`;
  const metric = raw['metric'];
  if (metric !== undefined && typeof metric !== 'string') return `${path}.metric must be a string`;
  if (type === 'measure' && aggregation !== 'count' && !metric) return `${path}.metric is required to sort by ${aggregation}`;
  return { type, order, aggregation, metric };
}
