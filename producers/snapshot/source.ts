// Snapshot reads on the source: the chunk SELECT (key order, feed limit, optional filter), the
// watermark messages around it, and the start-of-snapshot figures (largest key, row estimate).
// No table lock: every read is one short READ COMMITTED transaction using the primary-key index.
// A composite primary key is compared as a row, (k1, k2) > ($1, $2), in the index's order.
import pg from 'pg';
import type { TableContract } from '../../schemas/contract.ts';
import type { RawRow } from './events.ts';
import { keyParts } from './events.ts';
import { parsePgSnapshot, WATERMARK_PREFIX, type PgSnapshot } from './watermark.ts';

const q = pg.escapeIdentifier;

/** What these reads need of a connection. */
export type Queryable = Pick<pg.Client, 'query'>;

export interface ChunkSpec {
  contract: TableContract;
  /** Scan rows with key > afterKey (null: from the first key) ... */
  afterKey: string | null;
  /** ... and key <= maxKey, at most `limit` of them, in key order. */
  maxKey: string;
  limit: number;
  /** Keys read again regardless of the scan position (requeued by the window). */
  pendingKeys: string[];
  /** Trusted SQL predicate from the configuration (source.snapshot.filter). */
  filter: string | undefined;
  /**
   * Contract columns the table no longer has (nullable ones only: see tableColumnsMissing); they
   * are read as NULL, as the stream carries them after a DROP COLUMN.
   */
  absent?: ReadonlySet<string>;
}

export interface ChunkRead {
  snapshot: PgSnapshot | undefined;
  /** Rows of the key scan, in key order. */
  scan: RawRow[];
  /** Rows read again by key (pending keys that still exist and match the filter). */
  pending: RawRow[];
}

/** The key columns as a row expression, e.g. ("a", "b"), with an optional alias prefix. */
function keyRow(contract: TableContract, alias = ''): string {
  const cols = contract.keyColumns.map((k) => `${alias}${q(k)}`);
  return cols.length === 1 ? cols[0]! : `(${cols.join(', ')})`;
}

/** The key `keyText` as parameters appended to `values`: the matching row of placeholders. */
function keyParams(contract: TableContract, keyText: string, values: unknown[]): string {
  const ps = keyParts(contract, keyText).map((v) => `$${values.push(v)}`);
  return ps.length === 1 ? ps[0]! : `(${ps.join(', ')})`;
}

/** Every column as PostgreSQL's text output (the same text pgoutput sends), no client-side parsing. */
const RAW_TEXT: pg.CustomTypesConfig = { getTypeParser: () => (value: string) => value };

/**
 * One statement, so one snapshot for both the rows and pg_current_snapshot(): the key scan and
 * the pending keys, each row prefixed with the snapshot text and whether it comes from the scan.
 */
export function chunkSql(s: ChunkSpec): { text: string; values: unknown[] } {
  const { contract } = s;
  const key = keyRow(contract);
  const order = contract.keyColumns.map((k) => q(k)).join(', ');
  const table = `${q(contract.schema)}.${q(contract.table)}`;
  const cols = contract.columns
    .map((c) => (s.absent?.has(c.name) ? `NULL AS ${q(c.name)}` : `s.${q(c.name)}`))
    .join(', ');
  const filter = s.filter ? ` AND (${s.filter})` : '';
  const values: unknown[] = [];
  const upper = `${key} <= ${keyParams(contract, s.maxKey, values)}`;
  const limit = `$${values.push(s.limit)}`;
  const lower = s.afterKey === null ? '' : ` AND ${key} > ${keyParams(contract, s.afterKey, values)}`;
  const scan = `SELECT true AS pgcdc_scan, * FROM ${table} WHERE ${upper}${lower}${filter} ORDER BY ${order} LIMIT ${limit}`;
  const parts = [`(${scan})`];
  if (s.pendingKeys.length > 0) {
    const single = contract.keyColumns.length === 1;
    const p = values.push(
      single ? s.pendingKeys : JSON.stringify(s.pendingKeys.map((k) => keyParts(contract, k))),
    );
    const match = single
      ? `${key} = ANY($${p})`
      : `jsonb_build_array(${contract.keyColumns.map((k) => `${q(k)}::text`).join(', ')}) IN (SELECT jsonb_array_elements($${p}::jsonb))`;
    parts.push(`(SELECT false AS pgcdc_scan, * FROM ${table} WHERE ${match}${filter})`);
  }
  const outer = contract.keyColumns.map((k) => `s.${q(k)}`).join(', ');
  return {
    text:
      `SELECT pg_current_snapshot()::text AS pgcdc_snapshot, s.pgcdc_scan, ${cols} ` +
      `FROM (${parts.join(' UNION ALL ')}) s ORDER BY s.pgcdc_scan DESC, ${outer}`,
    values,
  };
}

/** Runs the chunk SELECT; must run inside the chunk's transaction, after the low watermark. */
export async function selectChunk(c: Queryable, s: ChunkSpec): Promise<ChunkRead> {
  const { text, values } = chunkSql(s);
  const res = await c.query<RawRow>({ text, values, rowMode: 'array', types: RAW_TEXT });
  const out: ChunkRead = { snapshot: undefined, scan: [], pending: [] };
  for (const row of res.rows) {
    out.snapshot ??= parsePgSnapshot(row[0]!);
    (row[1] === 't' ? out.scan : out.pending).push(row.slice(2));
  }
  return out;
}

/**
 * Contract columns the table lacks now (schema drift, README: Schema changes): nullable ones are
 * returned and read as NULL; a missing NOT NULL or key column cannot be carried and throws, as
 * the stream's assembler does. Runs inside the chunk's transaction, so a column dropped since the
 * last chunk is seen.
 */
export async function absentColumns(c: Queryable, contract: TableContract): Promise<Set<string>> {
  const table = `${q(contract.schema)}.${q(contract.table)}`;
  const res = await c.query<{ attname: string }>(
    'SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped',
    [table],
  );
  const have = new Set(res.rows.map((r) => r.attname));
  const missing = contract.columns.filter((col) => !have.has(col.name));
  const required = missing.filter((col) => !col.nullable || contract.keyColumns.includes(col.name));
  if (required.length > 0) {
    throw new Error(
      `table ${contract.schema}.${contract.table} lacks NOT NULL columns of the event schema: ` +
        `${required.map((col) => col.name).join(', ')}; the snapshot cannot read it`,
    );
  }
  return new Set(missing.map((col) => col.name));
}

/** Emits a watermark; the returned promise resolves once the message is in the WAL. */
export async function emitWatermark(c: Queryable, content: string): Promise<void> {
  await c.query('SELECT pg_logical_emit_message(false, $1, $2)', [WATERMARK_PREFIX, content]);
}

/**
 * Emits the high watermark and gives the transaction an xid, so that its COMMIT flushes the WAL
 * up to and including the watermark: the walsender sends only flushed WAL, and PostgreSQL 15 has
 * no flush flag on pg_logical_emit_message.
 */
export async function emitHighWatermark(c: Queryable, content: string): Promise<void> {
  await c.query('SELECT pg_logical_emit_message(false, $1, $2), pg_current_xact_id()', [
    WATERMARK_PREFIX,
    content,
  ]);
}

/** Largest key now (the scan's end: later rows arrive through the stream anyway; aliased: ORDER BY a name would sort the text output column, not the key). */
export async function maxKey(c: pg.Client, contract: TableContract): Promise<string | null> {
  const cols = contract.keyColumns.map((k) => q(k));
  const res = await c.query<(string | null)[]>({
    text: `SELECT ${cols.map((k, i) => `${k}::text AS pgcdc_k${i}`).join(', ')} FROM ${q(contract.schema)}.${q(contract.table)} ORDER BY ${cols.map((k) => `${k} DESC`).join(', ')} LIMIT 1`,
    rowMode: 'array',
  });
  const row = res.rows[0];
  if (!row) return null;
  return row.length === 1 ? row[0]! : JSON.stringify(row);
}

/**
 * Rows the snapshot will read: count(*) when it answers within `countTimeoutMs`, otherwise the
 * planner's estimate (reltuples, which ignores the filter). Null if neither is known.
 */
export async function estimateRows(
  c: pg.Client,
  contract: TableContract,
  upTo: string,
  filter: string | undefined,
  countTimeoutMs: number,
): Promise<{ total: number | null; exact: boolean }> {
  const table = `${q(contract.schema)}.${q(contract.table)}`;
  try {
    await c.query('BEGIN');
    await c.query(`SET LOCAL statement_timeout = ${Math.max(1, Math.floor(countTimeoutMs))}`);
    const values: unknown[] = [];
    const upper = `${keyRow(contract)} <= ${keyParams(contract, upTo, values)}`;
    const res = await c.query<{ n: string }>(
      `SELECT count(*) AS n FROM ${table} WHERE ${upper}${filter ? ` AND (${filter})` : ''}`,
      values,
    );
    await c.query('COMMIT');
    return { total: Number(res.rows[0]!.n), exact: true };
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    if ((err as { code?: string }).code !== '57014') throw err; // only a timeout falls back
  }
  const est = await c.query<{ n: string }>(
    'SELECT reltuples::bigint AS n FROM pg_class WHERE oid = $1::regclass',
    [table],
  );
  const n = Number(est.rows[0]?.n ?? -1);
  return { total: n >= 0 ? n : null, exact: false };
}
