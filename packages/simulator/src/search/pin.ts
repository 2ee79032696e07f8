import { literalOf, type Node } from './ast.ts';

/**
 * The exact values a query pins one of `fields` to, when every match must carry one of them
 * (`trace_id:123 AND service:x`, `trace_id:(1 OR 2)`); undefined when the query does not pin
 * the field. The pager uses it to jump straight to the slots of the named traces instead of
 * scanning the whole range, as Datadog's index would.
 */
export function pinnedValues(node: Node, fields: readonly string[]): string[] | undefined {
  switch (node.kind) {
    case 'term': {
      if (node.field === undefined || !fields.includes(node.field) || node.matcher.kind !== 'pattern') return undefined;
      const literal = literalOf(node.matcher.pattern);
      return literal === undefined ? undefined : [literal];
    }
    case 'and': {
      // Any pinned conjunct narrows the whole conjunction; take the smallest.
      let best: string[] | undefined;
      for (const child of node.children) {
        const pinned = pinnedValues(child, fields);
        if (pinned && (!best || pinned.length < best.length)) best = pinned;
      }
      return best;
    }
    case 'or': {
      const all: string[] = [];
      for (const child of node.children) {
        const pinned = pinnedValues(child, fields);
        if (!pinned) return undefined;
        all.push(...pinned);
      }
      return [...new Set(all)];
    }
    default:
      return undefined;
  }
}
