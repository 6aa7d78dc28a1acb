// Pruning the versions beside a table (docs/peers.md, "Pruning"): a deleted key leaves a version
// row (`<table>_pgcdc_peer`, deleted) and a local delete leaves a row in
// `<table>_pgcdc_local_deleted`; both exist only to make an arriving change that is older than the
// delete lose. They can go once no such change can arrive any more, which each node knows from
// its own links' progress: every link records, in the same transaction as its apply, per partition
// of its source topic the highest offset and source commit time it has decided
// (`<table>_pgcdc_progress`). A node's events reach a partition in its WAL order, so once the link
// from node Z has decided, on every partition, a change committed at or after T + margin, every
// change of Z committed before T has been decided here (the margin covers commit times that are
// not in WAL order: concurrent commits, a clock stepped back by less than the margin; the priority
// policy adds its window, inside which an earlier time can still win). Redelivered changes (a
// crash before the consumer committed its offsets) are recognised by the same rows (offset and
// time not past what was decided) and skipped, so they never meet a pruned key either. A delete is
// therefore pruned when its version is older than the lowest progress over every link into the
// node and every partition, less the margin, and it was applied at least `afterMs` ago; a link or
// partition that has decided nothing yet holds pruning back. Bounded: at most `batch` rows per
// run, one run per `intervalMs` per link. SQL builders (pure) and the run (I/O).
import type pg from 'pg';
import { quoteIdent as q, type TargetTable } from '../postgres/table.ts';
import type { DecodedEvent } from '../sink.ts';
import { localDeletedTableName, peerTableName, type Statement } from './sql.ts';

/** Per partition: the highest offset and source commit time (µs) a link decided. */
export type Decided = Map<number, { offset: bigint; tsUs: bigint }>;

export interface PruneSettings {
  /** one run per link at most this often (0: never) */
  intervalMs: number;
  /** a delete applied less than this long ago stays */
  afterMs: number;
  /** commit times out of WAL order by up to this much (and the priority window) are covered */
  marginMs: number;
  /** rows removed per run and table, at most */
  batch: number;
}

export const progressTableName = (t: Pick<TargetTable, 'table'>) => `${t.table}_pgcdc_progress`;
const progressTable = (t: TargetTable) => `${q(t.schema)}.${q(progressTableName(t))}`;

export function progressSetupSql(t: TargetTable): string {
  return (
    `CREATE TABLE IF NOT EXISTS ${progressTable(t)} (link text NOT NULL, partition int NOT NULL, ` +
    `kafka_offset bigint NOT NULL, ts_us bigint NOT NULL, PRIMARY KEY (link, partition))`
  );
}

/** What the link decided so far, per partition. */
export function progressSql(t: TargetTable, link: string): Statement {
  return {
    text: `SELECT partition, kafka_offset::text AS kafka_offset, ts_us::text AS ts_us FROM ${progressTable(t)} WHERE link = $1`,
    values: [link],
  };
}

/** The link decided this partition up to `offset`, changes committed up to `tsUs` (never goes back). */
export function recordProgressSql(
  t: TargetTable,
  link: string,
  partition: number,
  offset: bigint,
  tsUs: bigint,
): Statement {
  return {
    text:
      `INSERT INTO ${progressTable(t)} AS p (link, partition, kafka_offset, ts_us) VALUES ($1, $2, $3::bigint, $4::bigint) ` +
      `ON CONFLICT (link, partition) DO UPDATE SET kafka_offset = greatest(p.kafka_offset, EXCLUDED.kafka_offset), ` +
      `ts_us = greatest(p.ts_us, EXCLUDED.ts_us)`,
    values: [link, partition, offset.toString(), tsUs.toString()],
  };
}

/**
 * The commit time (µs) before which nothing can arrive any more, less the margin: the lowest
 * progress over `links` x `partitions`, or null while one of them has decided nothing.
 */
function horizon(t: TargetTable): string {
  return (
    `(SELECT CASE WHEN count(*) >= $2::int THEN min(ts_us) - $3::bigint END ` +
    `FROM ${progressTable(t)} WHERE link = ANY($1::text[]))`
  );
}

/** Removes up to `batch` deleted keys' versions older than the horizon and applied before `afterMs`. */
export function pruneVersionsSql(t: TargetTable, args: PruneArgs): Statement {
  const table = `${q(t.schema)}.${q(peerTableName(t))}`;
  const keys = t.keyColumns.map(q).join(', ');
  const match = t.keyColumns.map((k) => `m.${q(k)} = v.${q(k)}`).join(' AND ');
  return {
    text:
      `WITH v AS (SELECT ${keys} FROM ${table} WHERE deleted AND ts_us < ${horizon(t)} ` +
      `AND updated_at < clock_timestamp() - make_interval(secs => $4::double precision / 1000) ` +
      `LIMIT $5::int FOR UPDATE SKIP LOCKED) DELETE FROM ${table} m USING v WHERE ${match}`,
    values: values(args),
  };
}

/** Removes up to `batch` local deletes committed before the horizon (and `afterMs` ago). */
export function pruneLocalDeletesSql(t: TargetTable, args: PruneArgs): Statement {
  const table = `${q(t.schema)}.${q(localDeletedTableName(t))}`;
  const us = `(extract(epoch FROM pg_xact_commit_timestamp(x.xid::xid)) * 1000000)::bigint`;
  return {
    text:
      `WITH v AS (SELECT x.ctid FROM ${table} x WHERE ${us} < ${horizon(t)} ` +
      `AND pg_xact_commit_timestamp(x.xid::xid) < clock_timestamp() - make_interval(secs => $4::double precision / 1000) ` +
      `LIMIT $5::int FOR UPDATE SKIP LOCKED) DELETE FROM ${table} m USING v WHERE m.ctid = v.ctid`,
    values: values(args),
  };
}

export interface PruneArgs {
  /** every link into this node, by label */
  links: string[];
  partitions: number;
  /** margin in µs (the settings' margin, plus the priority window under that policy) */
  marginUs: bigint;
  afterMs: number;
  batch: number;
}

const values = (a: PruneArgs) => [
  a.links,
  a.links.length * a.partitions,
  a.marginUs.toString(),
  a.afterMs,
  a.batch,
];

/** A change this link already decided in a committed transaction (a redelivery): offset and time not past its progress. */
export function redelivered(e: DecodedEvent, decided: Decided): boolean {
  const d = e.partition === undefined ? undefined : decided.get(e.partition);
  return d !== undefined && e.offset <= d.offset && e.event.source.ts_us <= d.tsUs;
}

/** Per partition of the batch: its last offset and the latest source commit time in it. */
export function batchProgress(events: DecodedEvent[]): Decided {
  const out: Decided = new Map();
  for (const e of events) {
    if (e.partition === undefined) continue;
    const p = out.get(e.partition);
    const ts = e.event.source.ts_us;
    if (!p) out.set(e.partition, { offset: e.offset, tsUs: ts });
    else {
      if (e.offset > p.offset) p.offset = e.offset;
      if (ts > p.tsUs) p.tsUs = ts;
    }
  }
  return out;
}

/** One run: versions and local deletes of one table, each in its own short transaction. */
export async function prune(c: pg.Client, t: TargetTable, args: PruneArgs): Promise<number> {
  const versions = await c.query(pruneVersionsSql(t, args));
  const locals = await c.query(pruneLocalDeletesSql(t, args));
  return (versions.rowCount ?? 0) + (locals.rowCount ?? 0);
}
