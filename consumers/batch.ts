// Pure batch shaping shared by the database sinks (consumers/mysql/sink.ts; consumers/postgres/sink.ts
// can use the same): a partition batch's truncates set apart from its row events (a truncate is
// applied by position, so it commutes with them and goes first), and partial updates (TOAST-
// unchanged columns left out) grouped by the columns they leave out, so each group is one
// statement updating the same columns, in chunks of a bounded size. Order within a group is the
// batch's order; keys are distinct (the batch was folded to one change per key before).
import type { ChangeEvent } from '../schemas/contract.ts';

/** The batch's truncates and its row events, each in batch order. */
export function splitTruncates<E extends { event: ChangeEvent }>(events: E[]): { truncates: E[]; rows: E[] } {
  const truncates = events.filter((e) => e.event.op === 't');
  return { truncates, rows: truncates.length === 0 ? events : events.filter((e) => e.event.op !== 't') };
}

/** Partial updates grouped by the set of columns they leave unchanged, in chunks of at most `max`. */
export function groupByUnchanged<E extends { event: ChangeEvent }>(partials: E[], max = Infinity): E[][] {
  const groups = new Map<string, E[]>();
  for (const e of partials) {
    const k = [...e.event.unchanged].sort().join(',');
    const g = groups.get(k);
    if (g) g.push(e);
    else groups.set(k, [e]);
  }
  const out: E[][] = [];
  for (const g of groups.values()) for (let i = 0; i < g.length; i += max) out.push(g.slice(i, i + max));
  return out;
}
