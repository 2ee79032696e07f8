import type { LogEvent, SpanEvent } from '../wire.ts';
import type { SearchTarget } from './evaluate.ts';

/**
 * What field names mean for logs and for spans. Reserved names address top-level attributes,
 * `@path` addresses custom attributes, and any other `key:value` is a tag, as in Datadog.
 */

/** Values at a dotted path, reading nested objects and flat dotted keys alike. */
export function valuesAt(root: unknown, path: string): unknown[] {
  if (root === null || typeof root !== 'object') return [];
  const record = root as Record<string, unknown>;
  const out: unknown[] = [];
  if (path in record) push(out, record[path]);
  const dot = path.indexOf('.');
  for (let i = dot; i >= 0; i = path.indexOf('.', i + 1)) {
    const head = path.slice(0, i);
    if (head in record) out.push(...valuesAt(record[head], path.slice(i + 1)));
  }
  return out;
}

function push(out: unknown[], value: unknown): void {
  if (Array.isArray(value)) out.push(...value);
  else if (value !== undefined && value !== null) out.push(value);
}

/** Values of tag `key` in `key:value` tags. */
export function tagValues(tags: readonly string[], key: string): string[] {
  const prefix = `${key}:`;
  const out: string[] = [];
  for (const tag of tags) if (tag.startsWith(prefix)) out.push(tag.slice(prefix.length));
  return out;
}

export function logTarget(log: LogEvent): SearchTarget {
  const a = log.attributes;
  return {
    text: () => a.message,
    values: (field) => {
      if (field.startsWith('@')) return valuesAt(a.attributes, field.slice(1));
      switch (field) {
        case 'service':
        case 'status':
        case 'host':
        case 'message':
          return [a[field]];
        case 'trace_id':
          return valuesAt(a.attributes, 'dd.trace_id');
        case 'span_id':
          return valuesAt(a.attributes, 'dd.span_id');
        default:
          return tagValues(a.tags, field);
      }
    },
  };
}

export function spanTarget(span: SpanEvent): SearchTarget {
  const a = span.attributes;
  return {
    text: () => a.resource_name,
    values: (field) => {
      if (field.startsWith('@')) {
        const path = field.slice(1);
        const custom = valuesAt(a.custom, path);
        return custom.length > 0 ? custom : valuesAt(a.attributes, path);
      }
      switch (field) {
        case 'service':
        case 'env':
        case 'host':
        case 'resource_name':
        case 'type':
        case 'trace_id':
        case 'span_id':
        case 'parent_id':
          return a[field] === undefined ? [] : [a[field]];
        case 'operation_name':
        case 'status':
          return valuesAt(a.attributes, field);
        default:
          return tagValues(a.tags, field);
      }
    },
  };
}
