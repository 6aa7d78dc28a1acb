// The rules of a target matched by its own unique key (`mapping.match`), for every database (the
// Postgres and the MariaDB matched sinks are thin I/O around them: consumers/matching/apply.ts).
// Pure: given the link of the event's source key (which target row is its own, whether the source
// row is deleted or out of the filter, the source position last applied) and the target row that
// holds the event's match value (with the link that owns it, if any), what to do.
//
// Positions order the state of every row: a linked row's columns are the source row's as of its
// link's position, except that its match value may have been given up (NULL). Source match values
// are unique at every position, so when another row holds the value an event needs:
// - a row linked to a live source row written from a LATER position: at that position our row no
//   longer had the value, so a later event of ours takes another one. This event is written
//   without its match value (our row gives its old value up, its other columns and the position
//   move on): its old value may be what another row waits for, and skipping the event would leave
//   our row holding it with an older position, a wait that can run in a circle (docs/shaping.md);
// - one written from an EARLIER position: that row's change that releases the value is still to
//   come on another partition, whose first waiting event is older than ours: wait (retry), so
//   email swaps converge, and every wait is for an older event, so waits never run in a circle;
// - a row linked to a deleted (or filtered-out) source row: its value is stale and is released
//   (set to NULL) for the live row that holds it at the source;
// - a row the target made itself (no link): adopted by the first event of a source row that has
//   no row of its own yet (its twin); when the source row has its own row (live, or soft-deleted
//   and now coming back), dead-lettered as `match-conflict`: the operator decides which is right.
export interface Position {
  lsn: bigint;
  seq: bigint;
}

/** The link of a source key. */
export interface Link extends Position {
  /** its target row (null: none, e.g. hard-deleted) */
  targetKey: string | null;
  /** the source row is deleted or out of the filter */
  deleted: boolean;
}

/** The target row holding an event's match value, and the link that owns it (null: a row the target made itself). */
export interface Holder {
  targetKey: string;
  owner: (Position & { deleted: boolean }) | null;
}

/** Column names for the messages. */
export interface MatchNames {
  targetKey: string;
  matchColumn: string;
}

export const later = (a: Position, b: Position): boolean =>
  a.lsn > b.lsn || (a.lsn === b.lsn && a.seq > b.seq);

/** The key was written from this position or a later one: the event is applied already. */
export const isStale = (link: Link | undefined, pos: Position): boolean =>
  link !== undefined && !later(pos, link);

/**
 * A delete (or a row leaving the filter) of a source key: the row to remove (or soft-delete), if
 * the key has a live one, and the target key its link keeps (soft delete: the row, to revive it).
 */
export function planRemoval(
  link: Link | undefined,
  soft: boolean,
): { remove: string | null; keep: string | null } {
  const own = link?.targetKey ?? null;
  return { remove: own !== null && !link!.deleted ? own : null, keep: soft ? own : null };
}

/** The row an upsert writes into. */
export type Into =
  { kind: 'own'; targetKey: string } | { kind: 'adopt'; targetKey: string } | { kind: 'insert' };

export type Plan =
  | {
      kind: 'write';
      into: Into;
      /** first set this row's match value to NULL (its source row is gone or out of the filter) */
      release: string | undefined;
      /** write the row with its match value NULL: a row written from a later position holds it */
      withoutMatch: boolean;
    }
  | { kind: 'retry'; error: string }
  | { kind: 'dead'; reason: 'match-conflict' | 'missing-row'; error: string };

/**
 * An insert, update or snapshot read of a source key whose link is older than the event (or
 * absent). `holder`: the row holding the event's match value (undefined: none, or the event
 * carries no match value); `unchanged`: the columns the event leaves unchanged (it can only update a row
 * that holds the rest); `key`: the source key's values, for messages.
 */
export function planUpsert(i: {
  link: Link | undefined;
  holder: Holder | undefined;
  pos: Position;
  unchanged: readonly string[];
  key: readonly unknown[];
  names: MatchNames;
}): Plan {
  const own = i.link?.targetKey ?? null;
  const h = i.holder;
  let into: Into = own !== null ? { kind: 'own', targetKey: own } : { kind: 'insert' };
  let release: string | undefined;
  let withoutMatch = false;
  if (h && h.targetKey !== own) {
    if (h.owner === null) {
      if (own !== null)
        return {
          kind: 'dead',
          reason: 'match-conflict',
          error: `a row the target made itself (${i.names.targetKey} ${h.targetKey}) holds the ${i.names.matchColumn} of this row, which has its own row (${i.names.targetKey} ${own}${i.link!.deleted ? ', deleted' : ''})`,
        };
      into = { kind: 'adopt', targetKey: h.targetKey }; // the twin: adopted by the first event of this key
    } else if (h.owner.deleted) release = h.targetKey;
    else if (later(h.owner, i.pos)) withoutMatch = true;
    else
      return {
        kind: 'retry',
        error: `${i.names.matchColumn} is held by ${i.names.targetKey} ${h.targetKey}, whose change that releases it has not arrived yet`,
      };
  }
  if (i.unchanged.length > 0 && into.kind !== 'own') return missingRow(i.key, i.unchanged);
  return { kind: 'write', into, release, withoutMatch };
}

/**
 * The key's own row was not there to update (the target system removed it): it is created again
 * (undefined) when the event is whole; dead-lettered when it leaves columns unchanged.
 */
export function planLostRow(
  unchanged: readonly string[],
  key: readonly unknown[],
): { kind: 'dead'; reason: 'missing-row'; error: string } | undefined {
  return unchanged.length > 0 ? missingRow(key, unchanged) : undefined;
}

function missingRow(
  key: readonly unknown[],
  unchanged: readonly string[],
): { kind: 'dead'; reason: 'missing-row'; error: string } {
  return {
    kind: 'dead',
    reason: 'missing-row',
    error: `update of ${JSON.stringify(key.map(String))} carries no value for unchanged column(s) ${unchanged.join(', ')} and the row is missing at the target; re-snapshot to repair`,
  };
}
