// One decoded change event through a target's shape (shape.ts): zero or more events in the
// target's shape, or a dead letter when the event cannot be mapped soundly. Pure.
//
// Membership of the row filter, with the same predicate for snapshot reads and live changes:
// - the new row matches: the row is written whole (an upsert of the mapped row); a column the
//   source did not send (an unchanged TOASTed value) stays unchanged at the target, and so does a
//   computed field that reads one;
// - the new row does not match: an insert is dropped (the key did not exist at the source just
//   before, so the target does not hold it); an update or a snapshot read becomes a removal by the
//   delete policy (the row may have matched before), unless the previous row is known (REPLICA
//   IDENTITY FULL) and did not match either (then the target does not hold it);
// - whether it matches cannot be known (the filter reads a column the source did not send): the
//   event is dead-lettered rather than guessed. The producer completes such updates whenever a
//   target has a filter (pipeline/config/mapping.ts needsCompleteUpdates), so this is the rare case
//   of a row gone from the source before the producer could read it.
// A delete removes the row by the delete policy (`ignore`: dropped). Transitions are evaluated only
// on updates whose previous row is known, and only when the row matches the filter before or
// after: a transition that cannot be known is never emitted.
import type { ChangeEvent, Row } from '../../schemas/contract.ts';
import type { DecodedEvent } from '../sink.ts';
import { ExpressionError, rowVariables, toColumnValue } from '../../pipeline/cel.ts';
import type { TargetShape } from './shape.ts';

export type Mapped = { events: DecodedEvent[] } | { dead: { reason: string; error: string } };

class Unmappable extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

/** The source row in the target's shape; `unchanged` source columns give unchanged target columns. */
export function mapRow(
  shape: TargetShape,
  row: Row,
  unchanged: readonly string[],
): { row: Row; unchanged: string[] } {
  const out: Row = {};
  const outUnchanged: string[] = [];
  let vars: Record<string, unknown> | undefined;
  for (const c of shape.columns) {
    const o = c.origin;
    switch (o.kind) {
      case 'column':
        out[c.name] = row[o.source] ?? null;
        if (unchanged.includes(o.source)) outUnchanged.push(c.name);
        break;
      case 'constant':
        out[c.name] = o.value;
        break;
      case 'computed':
        if ([...o.expression.reads].some((r) => unchanged.includes(r))) {
          out[c.name] = null;
          outUnchanged.push(c.name);
          break;
        }
        vars ??= rowVariables(shape.reads, row);
        try {
          out[c.name] = toColumnValue(o.expression.evaluate(vars), c.pgType);
        } catch (err) {
          throw new Unmappable(
            'mapping-error',
            `computed column ${c.name}: ${(err as Error).message.split('\n')[0]}`,
          );
        }
        break;
      case 'soft-delete':
        out[c.name] = c.pgType === 'boolean' ? false : null;
        break;
      default:
        return o satisfies never;
    }
  }
  return { row: out, unchanged: outUnchanged };
}

export function mapKey(shape: TargetShape, key: Row): Row {
  const out: Row = {};
  for (const [from, to] of shape.keyNames) out[to] = key[from] ?? null;
  return out;
}

/** Does the row match the filter? undefined: it reads a column the source did not send. */
export function matches(
  shape: TargetShape,
  row: Row,
  unchanged: readonly string[] = [],
): boolean | undefined {
  const f = shape.filter;
  if (!f) return true;
  if (unchanged.length > 0 && [...f.reads].some((r) => unchanged.includes(r))) return undefined;
  let v: unknown;
  try {
    v = f.evaluate(rowVariables(shape.reads, row));
  } catch (err) {
    throw new Unmappable('mapping-error', `filter: ${(err as Error).message.split('\n')[0]}`);
  }
  if (typeof v !== 'boolean') throw new Unmappable('mapping-error', `filter gave ${typeof v}, not a bool`);
  return v;
}

const BASE_TYPE = { c: 'created', u: 'updated', d: 'deleted', r: 'snapshot', t: 'truncated' } as const;

export function mapEvent(shape: TargetShape, e: DecodedEvent): Mapped {
  try {
    return {
      events: mapped(shape, e).filter(
        (x) => !shape.events || shape.events.has(x.type ?? BASE_TYPE[x.event.op]),
      ),
    };
  } catch (err) {
    if (err instanceof Unmappable) return { dead: { reason: err.reason, error: err.message } };
    if (err instanceof ExpressionError) return { dead: { reason: 'mapping-error', error: err.message } };
    throw err;
  }
}

function mapped(shape: TargetShape, e: DecodedEvent): DecodedEvent[] {
  const ev = e.event;
  const key = mapKey(shape, e.key);
  const before = ev.before;
  const removal = (): DecodedEvent[] =>
    shape.deletePolicy === 'ignore'
      ? []
      : [
          {
            offset: e.offset,
            key,
            event: {
              ...ev,
              op: 'd',
              before: before && mapRow(shape, before, []).row,
              after: null,
              unchanged: [],
            },
          },
        ];
  switch (ev.op) {
    case 't':
      return [e];
    case 'd':
      if (before && matches(shape, before) === false) return [];
      return removal();
    case 'c':
    case 'r':
    case 'u': {
      const after = ev.after!;
      const now = matches(shape, after, ev.unchanged);
      if (now === undefined)
        throw new Unmappable(
          'filter-undecidable',
          `the filter reads ${[...shape.filter!.reads].filter((r) => ev.unchanged.includes(r)).join(', ')}, which the source did not send (unchanged TOASTed value); set REPLICA IDENTITY FULL on the source table, or re-snapshot`,
        );
      const was = before ? matches(shape, before) : undefined;
      const changes: DecodedEvent[] = [];
      if (now) {
        const m = mapRow(shape, after, ev.unchanged);
        const event: ChangeEvent = {
          ...ev,
          before: before && mapRow(shape, before, []).row,
          after: m.row,
          unchanged: m.unchanged,
        };
        changes.push({ offset: e.offset, key, event });
      } else if (ev.op !== 'c' && was !== false) changes.push(...removal());
      if (ev.op === 'u' && before && (now || was)) changes.push(...transitions(shape, e, key, before));
      return changes;
    }
    default:
      return ev.op satisfies never;
  }
}

function transitions(shape: TargetShape, e: DecodedEvent, key: Row, before: Row): DecodedEvent[] {
  if (shape.transitions.length === 0) return [];
  const ev = e.event;
  // under REPLICA IDENTITY FULL an unchanged column's value is the previous one
  const afterRow: Row = { ...ev.after };
  for (const c of ev.unchanged) afterRow[c] = before[c] ?? null;
  // plain objects: decoded rows are instances of the Avro record's class, which CEL maps refuse
  const vars = { before: { ...before }, after: afterRow };
  const out: DecodedEvent[] = [];
  for (const t of shape.transitions) {
    let hit: unknown;
    try {
      hit = t.expression.evaluate(vars);
    } catch (err) {
      throw new Unmappable('mapping-error', `transition ${t.name}: ${(err as Error).message.split('\n')[0]}`);
    }
    if (hit !== true) continue;
    const event: ChangeEvent = {
      ...ev,
      event_id: `${ev.event_id}/${t.name}`,
      before: mapRow(shape, before, []).row,
      after: mapRow(shape, afterRow, []).row,
      unchanged: [],
    };
    out.push({ offset: e.offset, key, event, type: t.name });
  }
  return out;
}
