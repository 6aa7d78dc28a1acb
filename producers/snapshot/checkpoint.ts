// The snapshot checkpoint: one row per (slot, table) in a small table of the source database
// (default public.pgcdc_snapshot, created if missing). It holds the request (`requested`), the
// progress of the running snapshot (`running`: last key whose chunk Kafka acknowledged, counts,
// start time) and the result (`done`). It is written only after Kafka acknowledged a chunk, so a
// killed producer resumes after the last durable chunk. The table is not in the publication.
//
// The snapshot filter is NOT stored here: anyone who can write this table would run SQL as the
// replication role. The filter lives in the configuration; the row keeps only its fingerprint
// (filterFingerprint), so a resume notices a filter changed since the snapshot began (plan.ts).
// A table of an earlier version (a `filter` column holding SQL) is migrated at start: the
// fingerprint of the stored text is kept and the column dropped, its text never executed.
import { createHash } from 'node:crypto';
import pg from 'pg';
import { ConfigError } from '../../pipeline/errors.ts';

export interface CheckpointTable {
  schema: string;
  table: string;
}

export interface CheckpointKey {
  slot: string;
  /** `<schema>.<table>` of the captured table. */
  tableName: string;
}

export type CheckpointStatus = 'requested' | 'running' | 'done';

export interface Checkpoint {
  slot: string;
  tableName: string;
  status: CheckpointStatus;
  reason: string | null;
  snapshotId: string | null;
  /** The scan stops at the largest key that existed when the snapshot started. */
  maxKey: string | null;
  /** Last key of the last chunk Kafka acknowledged (null: none yet). */
  lastKey: string | null;
  /** Keys to read again (their live change in a window was an update without all columns). */
  pendingKeys: string[];
  rowsDone: number;
  rowsTotal: number | null;
  events: number;
  chunks: number;
  resumes: number;
  batchSize: number | null;
  /** sha256 (hex) of the filter the snapshot began with; null: no filter. Never the SQL itself. */
  filterFingerprint: string | null;
  lastBatch: { size: number; firstKey: string | null; lastKey: string | null } | undefined;
  requestedAt: Date | null;
  startedAt: Date | null;
  updatedAt: Date;
  finishedAt: Date | null;
}

const q = pg.escapeIdentifier;
const qname = (t: CheckpointTable) => `${q(t.schema)}.${q(t.table)}`;

export function checkpointDdl(t: CheckpointTable): string {
  return `CREATE TABLE IF NOT EXISTS ${qname(t)} (
  slot                 text NOT NULL,
  table_name           text NOT NULL,
  status               text NOT NULL CHECK (status IN ('requested', 'running', 'done')),
  reason               text,
  snapshot_id          text,
  max_key              text,
  last_key             text,
  pending_keys         text[] NOT NULL DEFAULT '{}',
  rows_done            bigint NOT NULL DEFAULT 0,
  rows_total           bigint,
  events               bigint NOT NULL DEFAULT 0,
  chunks               bigint NOT NULL DEFAULT 0,
  resumes              integer NOT NULL DEFAULT 0,
  batch_size           integer,
  filter_fingerprint   text,
  last_batch_size      integer,
  last_batch_first_key text,
  last_batch_last_key  text,
  requested_at         timestamptz,
  started_at           timestamptz,
  updated_at           timestamptz NOT NULL DEFAULT now(),
  finished_at          timestamptz,
  PRIMARY KEY (slot, table_name)
)`;
}

type Db = pg.Client | pg.PoolClient;

/** The fingerprint of a snapshot filter as the checkpoint keeps it (null: no filter). */
export function filterFingerprint(filter: string | null | undefined): string | null {
  return filter ? createHash('sha256').update(filter, 'utf8').digest('hex') : null;
}

/** Two processes creating or migrating the table at once: one wins, the other sees these. */
const RACE_CODES = new Set(['23505', '42P07', '42701', '42703']);

export async function ensureCheckpointTable(c: Db, t: CheckpointTable): Promise<void> {
  try {
    await c.query(checkpointDdl(t));
  } catch (err) {
    if (!RACE_CODES.has((err as { code?: string }).code ?? '')) throw err;
  }
  await migrateFilterColumn(c, t);
}

/** An earlier version's `filter` column (SQL) becomes its fingerprint; the SQL is dropped unread. */
async function migrateFilterColumn(c: Db, t: CheckpointTable): Promise<void> {
  const cols = await c.query<{ attname: string }>(
    `SELECT attname FROM pg_attribute
      WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped
        AND attname IN ('filter', 'filter_fingerprint')`,
    [qname(t)],
  );
  const has = new Set(cols.rows.map((r) => r.attname));
  if (has.has('filter_fingerprint') && !has.has('filter')) return;
  try {
    await c.query('BEGIN');
    await c.query(`ALTER TABLE ${qname(t)} ADD COLUMN IF NOT EXISTS filter_fingerprint text`);
    if (has.has('filter')) {
      await c.query(
        `UPDATE ${qname(t)} SET filter_fingerprint = encode(sha256(convert_to(filter, 'UTF8')), 'hex')
          WHERE filter IS NOT NULL AND filter_fingerprint IS NULL`,
      );
      await c.query(`ALTER TABLE ${qname(t)} DROP COLUMN IF EXISTS filter`);
    }
    await c.query('COMMIT');
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    if (RACE_CODES.has((err as { code?: string }).code ?? '')) return;
    throw new ConfigError(
      `cannot migrate the snapshot checkpoint table ${qname(t)}: ${(err as Error).message}`,
      {
        cause: err,
        hint:
          `as its owner: ALTER TABLE ${qname(t)} ADD COLUMN IF NOT EXISTS filter_fingerprint text; ` +
          `ALTER TABLE ${qname(t)} DROP COLUMN IF EXISTS filter (the filter is read from the configuration only)`,
      },
    );
  }
}

interface RawCheckpoint {
  slot: string;
  table_name: string;
  status: CheckpointStatus;
  reason: string | null;
  snapshot_id: string | null;
  max_key: string | null;
  last_key: string | null;
  pending_keys: string[];
  rows_done: string;
  rows_total: string | null;
  events: string;
  chunks: string;
  resumes: number;
  batch_size: number | null;
  filter_fingerprint: string | null;
  last_batch_size: number | null;
  last_batch_first_key: string | null;
  last_batch_last_key: string | null;
  requested_at: Date | null;
  started_at: Date | null;
  updated_at: Date;
  finished_at: Date | null;
}

function fromRow(r: RawCheckpoint): Checkpoint {
  return {
    slot: r.slot,
    tableName: r.table_name,
    status: r.status,
    reason: r.reason,
    snapshotId: r.snapshot_id,
    maxKey: r.max_key,
    lastKey: r.last_key,
    pendingKeys: r.pending_keys,
    rowsDone: Number(r.rows_done),
    rowsTotal: r.rows_total === null ? null : Number(r.rows_total),
    events: Number(r.events),
    chunks: Number(r.chunks),
    resumes: r.resumes,
    batchSize: r.batch_size,
    filterFingerprint: r.filter_fingerprint,
    lastBatch:
      r.last_batch_size === null
        ? undefined
        : { size: r.last_batch_size, firstKey: r.last_batch_first_key, lastKey: r.last_batch_last_key },
    requestedAt: r.requested_at,
    startedAt: r.started_at,
    updatedAt: r.updated_at,
    finishedAt: r.finished_at,
  };
}

const where = 'slot = $1 AND table_name = $2';

async function one(c: Db, text: string, values: unknown[]): Promise<Checkpoint | undefined> {
  const res = await c.query<RawCheckpoint>(text, values);
  const row = res.rows[0];
  return row ? fromRow(row) : undefined;
}

/** The checkpoint row, or undefined when none (or no table) exists. */
export async function readCheckpoint(
  c: Db,
  t: CheckpointTable,
  k: CheckpointKey,
): Promise<Checkpoint | undefined> {
  const exists = await c.query<{ ok: boolean }>('SELECT to_regclass($1) IS NOT NULL AS ok', [qname(t)]);
  if (!exists.rows[0]?.ok) return undefined;
  return one(c, `SELECT * FROM ${qname(t)} WHERE ${where}`, [k.slot, k.tableName]);
}

/**
 * Asks for a snapshot. An interrupted (`running`) snapshot is resumed unless `restart`; a finished
 * one, or none, becomes a new request that starts from the first key. A plain request while one
 * is pending (`requested`, e.g. the producer's restart for a changed filter, not begun yet) merges
 * into it and keeps its reason; a restart gives its own.
 */
export async function requestSnapshot(
  c: Db,
  t: CheckpointTable,
  k: CheckpointKey,
  opts: { restart: boolean; reason: string },
): Promise<Checkpoint> {
  const keep = "t.status = 'running' AND NOT $4::boolean";
  const keepReason = "t.status IN ('running', 'requested') AND NOT $4::boolean";
  const row = await one(
    c,
    `INSERT INTO ${qname(t)} AS t (slot, table_name, status, reason, requested_at)
     VALUES ($1, $2, 'requested', $3, now())
     ON CONFLICT (slot, table_name) DO UPDATE SET
       status = CASE WHEN ${keep} THEN t.status ELSE 'requested' END,
       reason = CASE WHEN ${keepReason} THEN t.reason ELSE EXCLUDED.reason END,
       requested_at = now(), updated_at = now()
     RETURNING *`,
    [k.slot, k.tableName, opts.reason, opts.restart],
  );
  return row!;
}

/** The automatic first snapshot: a request only if this slot never had one for this table. */
export async function requestInitialSnapshot(
  c: Db,
  t: CheckpointTable,
  k: CheckpointKey,
): Promise<Checkpoint | undefined> {
  return one(
    c,
    `INSERT INTO ${qname(t)} (slot, table_name, status, reason, requested_at)
     VALUES ($1, $2, 'requested', 'initial', now())
     ON CONFLICT (slot, table_name) DO NOTHING RETURNING *`,
    [k.slot, k.tableName],
  );
}

/** requested -> running, with fresh progress. Undefined if the row is no longer `requested`. */
export async function beginSnapshot(
  c: Db,
  t: CheckpointTable,
  k: CheckpointKey,
  s: {
    snapshotId: string;
    maxKey: string | null;
    total: number | null;
    batchSize: number;
    filterFingerprint: string | null;
  },
): Promise<Checkpoint | undefined> {
  return one(
    c,
    `UPDATE ${qname(t)} SET status = 'running', snapshot_id = $3, max_key = $4, last_key = NULL,
       pending_keys = '{}', rows_done = 0, rows_total = $5, events = 0, chunks = 0, resumes = 0,
       batch_size = $6, filter_fingerprint = $7, last_batch_size = NULL, last_batch_first_key = NULL,
       last_batch_last_key = NULL, started_at = now(), updated_at = now(), finished_at = NULL
     WHERE ${where} AND status = 'requested' RETURNING *`,
    [k.slot, k.tableName, s.snapshotId, s.maxKey, s.total, s.batchSize, s.filterFingerprint],
  );
}

/** Counts one more resumption of a `running` snapshot; undefined if it is no longer running. */
export async function resumeSnapshot(
  c: Db,
  t: CheckpointTable,
  k: CheckpointKey,
  snapshotId: string,
): Promise<Checkpoint | undefined> {
  return one(
    c,
    `UPDATE ${qname(t)} SET resumes = resumes + 1, updated_at = now()
     WHERE ${where} AND snapshot_id = $3 AND status = 'running' RETURNING *`,
    [k.slot, k.tableName, snapshotId],
  );
}

export interface ChunkDone {
  snapshotId: string;
  lastKey: string | null;
  pendingKeys: string[];
  rows: number;
  events: number;
  batch: { size: number; firstKey: string | null; lastKey: string | null };
}

/** Records a chunk Kafka acknowledged. False if the snapshot was superseded (restart requested). */
export async function saveChunk(c: Db, t: CheckpointTable, k: CheckpointKey, d: ChunkDone): Promise<boolean> {
  const res = await c.query(
    `UPDATE ${qname(t)} SET last_key = coalesce($4, last_key), pending_keys = $5,
       rows_done = rows_done + $6, events = events + $7, chunks = chunks + 1,
       last_batch_size = $8, last_batch_first_key = $9, last_batch_last_key = $10, updated_at = now()
     WHERE ${where} AND snapshot_id = $3 AND status = 'running'`,
    [
      k.slot,
      k.tableName,
      d.snapshotId,
      d.lastKey,
      d.pendingKeys,
      d.rows,
      d.events,
      d.batch.size,
      d.batch.firstKey,
      d.batch.lastKey,
    ],
  );
  return res.rowCount === 1;
}

export async function finishSnapshot(
  c: Db,
  t: CheckpointTable,
  k: CheckpointKey,
  snapshotId: string,
): Promise<Checkpoint | undefined> {
  return one(
    c,
    `UPDATE ${qname(t)} SET status = 'done', pending_keys = '{}', finished_at = now(), updated_at = now()
     WHERE ${where} AND snapshot_id = $3 AND status = 'running' RETURNING *`,
    [k.slot, k.tableName, snapshotId],
  );
}
