// Unique conflicts across nodes (docs/peers.md): a row arriving with a unique value another key
// holds at this node (the same email registered at two nodes under two ids). Never blocks the link
// and never overwrites silently: with onUniqueConflict `resolve` the two rows' versions are
// compared under the mesh's policy and the loser's row is removed (at every node the same one,
// since every node compares the same versions), with `keep-local` the arriving row is left out and
// an operator decides. Either way the conflict is logged with both rows.
import type pg from 'pg';
import type { Row } from '../../schemas/contract.ts';
import type { DecodedEvent } from '../sink.ts';
import { UNIQUE_INDEX_SQL, uniqueIndexFromRows, type UniqueIndex } from '../postgres/unique.ts';
import { qname, type TargetTable } from '../postgres/table.ts';
import { deleteSql, holderKeysSql, logConflictSql, writeMetaSql, type ConflictRecord } from './sql.ts';
import { compareVersions, type Current, type Version, type VersionOrder } from './version.ts';

/** The name of the unique index a violation names, unless it is the primary key's. */
export function uniqueViolation(err: unknown, _t: TargetTable): string | undefined {
  const e = err as { code?: string; constraint?: string };
  return e.code === '23505' && e.constraint ? e.constraint : undefined;
}

export interface UniqueContext {
  table: TargetTable;
  link: { label: string; onUniqueConflict: 'resolve' | 'keep-local'; order: VersionOrder };
  event: DecodedEvent;
  incoming: Version;
  /** unique index name from the violation */
  index: string;
  current: (key: Row) => Promise<Current>;
}

/** retry: the holder was removed (or moved away meanwhile), write the row again. */
export async function resolveUnique(
  c: pg.Client,
  ctx: UniqueContext,
): Promise<{ retry: boolean; logged: ConflictRecord[] }> {
  const { table: t, event: e, incoming } = ctx;
  const index = await uniqueIndex(c, t, ctx.index);
  if (!index) throw Object.assign(new Error(`unique index ${ctx.index} not found`), { code: '23505' });
  const holders = await c.query<Row>(holderKeysSql(t, index, e.event.after!, e.key));
  if (index.primary)
    throw Object.assign(new Error(`key of ${ctx.table.table} written concurrently`), { code: '40001' });
  // the holder moved away meanwhile: write again
  if (holders.rows.length === 0) return { retry: true, logged: [] };
  const holderKey = holders.rows[0]!;
  const holder = await ctx.current(holderKey);
  const holderVersion = holder.state === 'none' ? undefined : holder.version;
  const record = (resolution: string): ConflictRecord => ({
    link: ctx.link.label,
    kind: 'unique',
    resolution,
    key: e.key,
    otherKey: holderKey,
    localVersion: holderVersion,
    remoteVersion: incoming,
    localRow: holder.state === 'live' ? holder.row : undefined,
    remoteRow: e.event.after ?? undefined,
    eventId: e.event.event_id,
  });
  const log = async (r: ConflictRecord) => {
    await c.query(logConflictSql(t, r));
    return r;
  };
  if (ctx.link.onUniqueConflict === 'keep-local')
    return { retry: false, logged: [await log(record('left-for-operator'))] };
  const wins = !holderVersion || compareVersions(incoming, holderVersion, ctx.link.order) > 0;
  if (wins) {
    // the holder loses: its row goes, and its tombstone keeps its own older versions out
    await c.query(deleteSql(t, holderKey));
    if (holderVersion) await c.query(writeMetaSql(t, holderKey, holderVersion, true, null));
    return { retry: true, logged: [await log(record('applied-remote'))] };
  }
  // the arriving row loses: its key is removed here too, as it is at the nodes that hold it
  await c.query(deleteSql(t, e.key));
  await c.query(writeMetaSql(t, e.key, incoming, true, e.event.event_id));
  return { retry: false, logged: [await log(record('kept-local'))] };
}

const indexes = new WeakMap<pg.Client, Map<string, (UniqueIndex & { primary: boolean }) | undefined>>();

async function uniqueIndex(c: pg.Client, t: TargetTable, name: string) {
  const cache = indexes.get(c) ?? new Map<string, (UniqueIndex & { primary: boolean }) | undefined>();
  indexes.set(c, cache);
  if (!cache.has(name)) {
    const parts = await c.query<{ part: string; predicate: string | null }>(UNIQUE_INDEX_SQL, [
      name,
      qname(t),
    ]);
    const primary = await c.query<{ p: boolean }>(
      `SELECT indisprimary AS p FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = $1 AND i.indrelid = to_regclass($2)`,
      [name, qname(t)],
    );
    const index = uniqueIndexFromRows(parts.rows);
    cache.set(name, index && { ...index, primary: primary.rows[0]?.p ?? false });
  }
  return cache.get(name);
}
