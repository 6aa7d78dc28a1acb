// One event at a target matched by its own unique key, over a small store port that each database
// implements with its own SQL (consumers/postgres/matched-sink.ts, consumers/mysql/match-sink.ts)
// and the model test in memory: read the key's link, the rules (decide.ts), then the writes they
// call for. The store runs inside the sink's transaction, under a savepoint per event; the link and
// the holder are read locked, so no other lane changes them before this event's writes commit.
import type { ChangeEvent, ColumnSpec, Row } from '../../schemas/contract.ts';
import type { TargetShape } from '../mapping/shape.ts';
import {
  isStale,
  planLostRow,
  planRemoval,
  planUpsert,
  type Holder,
  type Link,
  type MatchNames,
  type Position,
} from './decide.ts';

/** What became of one event. */
export type Outcome =
  { kind: 'ok' } | { kind: 'dead'; reason: string; error: string } | { kind: 'retry'; error: string };
export const OK: Outcome = { kind: 'ok' };

export type EventPosition = Position & { eventId: string };

/** The reads and writes of one matched target, each a statement of its own database. */
export interface MatchStore {
  /** the source key's link, locked */
  link(key: Row): Promise<Link | undefined>;
  /** the target row holding a match value, locked */
  holder(value: unknown): Promise<string | undefined>;
  /** the link owning a target row, locked, read after the row's lock (null: a row the target made itself) */
  owner(targetKey: string): Promise<Holder['owner']>;
  /** writes (or moves forward) the source key's link */
  upsertLink(
    key: Row,
    link: { targetKey: string | null; deleted: boolean },
    pos: EventPosition,
  ): Promise<void>;
  /** updates the row's columns but the unchanged ones; false: the row is not there */
  update(row: Row, unchanged: readonly string[], targetKey: string): Promise<boolean>;
  /** inserts the row, returns its target key */
  insert(row: Row): Promise<string>;
  /** sets the row's match value to NULL */
  release(targetKey: string): Promise<void>;
  /** removes (or soft-deletes) the row of a deleted source row */
  remove(targetKey: string, commitTimeUs: bigint): Promise<void>;
  /** a truncate at this position: every linked row written before it is removed */
  truncate(pos: EventPosition, commitTimeUs: bigint): Promise<void>;
}

export interface MatchedTarget {
  names: MatchNames;
  soft: boolean;
}

/** The rules' view of a matched table (either database's). */
export function matchedTarget(t: {
  targetKey: string;
  match: { column: string };
  soft: object | undefined;
}): MatchedTarget {
  return { names: { targetKey: t.targetKey, matchColumn: t.match.column }, soft: t.soft !== undefined };
}

/** The source key as a links table stores it: the shape's key columns under their target names. */
export function linkKeyColumns(shape: TargetShape): ColumnSpec[] {
  return [...shape.keyNames].map(([from, to]) => ({
    ...shape.source.find((c) => c.name === from)!,
    name: to,
  }));
}

/** Applies one event (already in the target's shape) of source key `key`. */
export async function applyMatched(
  store: MatchStore,
  t: MatchedTarget,
  key: Row,
  ev: ChangeEvent,
): Promise<Outcome> {
  const pos: EventPosition = { lsn: ev.source.commit_lsn, seq: ev.source.seq, eventId: ev.event_id };
  if (ev.op === 't') {
    await store.truncate(pos, ev.source.ts_us);
    return OK;
  }
  const link = await store.link(key);
  if (isStale(link, pos)) return OK; // this key was written from this position or a later one
  if (ev.op === 'd') {
    const r = planRemoval(link, t.soft);
    if (r.remove !== null) await store.remove(r.remove, ev.source.ts_us);
    await store.upsertLink(key, { targetKey: r.keep, deleted: true }, pos);
    return OK;
  }
  const row = ev.after!;
  const match = t.names.matchColumn;
  const value = ev.unchanged.includes(match) ? null : (row[match] ?? null);
  const held = value === null ? undefined : await store.holder(value);
  // the owner matters only when another row holds the value
  const holder: Holder | undefined =
    held === undefined
      ? undefined
      : { targetKey: held, owner: held === link?.targetKey ? null : await store.owner(held) };
  const keyValues = Object.values(key);
  const plan = planUpsert({ link, holder, pos, unchanged: ev.unchanged, key: keyValues, names: t.names });
  switch (plan.kind) {
    case 'retry':
      return { kind: 'retry', error: plan.error };
    case 'dead':
      return { kind: 'dead', reason: plan.reason, error: plan.error };
    case 'write': {
      if (plan.release !== undefined) await store.release(plan.release);
      const written = plan.withoutMatch ? { ...row, [match]: null } : row;
      const into = plan.into;
      let targetKey: string | null = null;
      if (into.kind !== 'insert') {
        const unchanged = into.kind === 'own' ? ev.unchanged : [];
        if (await store.update(written, unchanged, into.targetKey)) targetKey = into.targetKey;
        else {
          const lost = planLostRow(ev.unchanged, keyValues); // removed by the target system
          if (lost) return lost;
        }
      }
      targetKey ??= await store.insert(written);
      await store.upsertLink(key, { targetKey, deleted: false }, pos);
      return OK;
    }
    default:
      return plan satisfies never;
  }
}
