// Reconcile's reads of PostgreSQL, one short statement each (no long transaction, no lock beyond
// a plain SELECT's), in key order on the primary-key index: a chunk of the source by keyset
// pagination (`key > last ORDER BY key LIMIT n`), the same key range at a PostgreSQL target, and
// rows by key. Text keys are ordered and bounded with COLLATE "C" on both sides, so both servers
// agree on a range whatever their collations. Every value is read as PostgreSQL's text output
// (decoded by rows.ts), in the producer's session settings (UTC, ISO dates, exact floats, ISO 8601
// intervals, hex bytea), so a value reads as the events carry it.
import type pg from 'pg';
import type { PgConnections } from '../../pipeline/postgres.ts';
import type { RawRow } from './rows.ts';
import { targetRowOf, type TargetRow } from './rows.ts';
import type { TablePlan } from './plan.ts';
import { LINKS_SUFFIX, TARGET_KEY } from '../../consumers/postgres/matched.ts';
import { pgRowHash } from './mysql-hash.ts';

const q = (id: string) => `"${id.replace(/"/g, '""')}"`;
const RAW_TEXT: pg.CustomTypesConfig = { getTypeParser: () => (value: string) => value };
const TEXT_KINDS = new Set(['text', 'varchar', 'char']);
const INTEGER_KINDS = new Set(['smallint', 'integer', 'bigint']);
export const SESSION =
  '-c TimeZone=UTC -c DateStyle=ISO -c extra_float_digits=3 -c IntervalStyle=iso_8601 -c bytea_output=hex';

type Side = 'source' | 'target';

/** Key bounds of a range: after `lo` (exclusive, null: from the first) up to `hi` (inclusive, null: to the end). */
export interface KeyRange {
  lo: string[] | null;
  hi: string[] | null;
}

/**
 * What a target row is read from: the target table (x), or for a matched target its links table
 * (x: the source key, deleted flag, position) joined to the linked target row (t).
 */
function targetFrom(plan: TablePlan): { from: string; row: string } {
  const at = `${q(plan.at.schema)}.${q(plan.at.table)}`;
  const m = plan.shape.match;
  if (!m) return { from: `${at} AS x`, row: 'x' };
  const links = `${q(plan.at.schema)}.${q(plan.at.table + LINKS_SUFFIX)}`;
  return {
    from: `${links} AS x LEFT JOIN ${at} AS t ON t.${q(m.targetKey)}::text = x.${q(TARGET_KEY)}`,
    row: 't',
  };
}

/** Table, key expression (collated) and key column list of one side. */
export function sideOf(plan: TablePlan, side: Side) {
  const table = side === 'source' ? plan.contract : plan.at;
  const names = plan.key.map((k) => (side === 'source' ? k.source : k.target));
  const exprs = plan.key.map((k, i) => {
    const col = `x.${q(names[i]!)}`;
    return TEXT_KINDS.has(k.spec.pgType) ? `${col} COLLATE "C"` : col;
  });
  const row = (xs: string[]) => (xs.length === 1 ? xs[0]! : `(${xs.join(', ')})`);
  return {
    from: side === 'target' ? targetFrom(plan).from : `${q(table.schema)}.${q(table.table)} AS x`,
    key: row(exprs),
    order: exprs.join(', '),
    keyText: names.map((n) => `x.${q(n)}::text`),
    params: (parts: string[], values: unknown[]) =>
      row(parts.map((p, i) => `$${values.push(p)}::${plan.key[i]!.spec.sqlType}`)),
  };
}

/** WHERE of a key range (plus the target's live-row condition). */
function rangeWhere(plan: TablePlan, side: Side, r: KeyRange, values: unknown[], live: boolean): string {
  const s = sideOf(plan, side);
  const conds = ['true'];
  if (r.lo) conds.push(`${s.key} > ${s.params(r.lo, values)}`);
  if (r.hi) conds.push(`${s.key} <= ${s.params(r.hi, values)}`);
  if (live && side === 'target' && plan.softDelete) conds.push(`NOT (${removedExpr(plan)})`);
  return conds.join(' AND ');
}

/**
 * Whether a target row is absent for the source: soft-deleted; at a matched target also its row
 * gone. A deleted link whose row is live again (revived by hand after the source row was deleted:
 * the sink soft-deleted it) counts as live, so it is an extra row; the sink never leaves a live row
 * behind a deleted link (a delete removes or soft-deletes it and, without soft delete, clears the
 * link's target key).
 */
function removedExpr(plan: TablePlan): string {
  const sd = plan.softDelete;
  const { row } = targetFrom(plan);
  const soft = !sd
    ? 'false'
    : sd.type === 'boolean'
      ? `${row}.${q(sd.column)} IS TRUE`
      : `${row}.${q(sd.column)} IS NOT NULL`;
  const m = plan.shape.match;
  return m ? `(t.${q(m.targetKey)} IS NULL OR ${soft})` : soft;
}

/**
 * md5 of a row's compared columns as text (sqlHashes plans only: every column a source column); for
 * a MySQL/MariaDB target, of the canonical form both servers print alike (mysql-hash.ts).
 */
function rowHash(plan: TablePlan, side: Side): string {
  if (plan.kind === 'mysql') return pgRowHash(plan, (name) => `x.${q(name)}`);
  const cols = plan.columns.map((c) => {
    const name = side === 'source' && c.origin.kind === 'column' ? c.origin.source : c.name;
    return `x.${q(name)}::text`;
  });
  return `md5(ROW(${cols.join(', ')})::text)`;
}

export interface ChunkHash {
  rows: number;
  /** the chunk's last key (null: no rows) */
  last: string[] | null;
  hash: string | null;
}

/**
 * The last key of a chunk in the same pass as its hash: `max` of a single integer or ("C"-ordered)
 * text key; undefined for other keys (the chunk is numbered and its last row looked up instead).
 */
function lastKeyByMax(plan: TablePlan, key: string): string | undefined {
  if (plan.key.length !== 1) return undefined;
  const kind = plan.key[0]!.spec.pgType;
  return INTEGER_KINDS.has(kind) || TEXT_KINDS.has(kind)
    ? `json_build_array(max(${key})::text)::text`
    : undefined;
}

/**
 * The next chunk of the source after `lo`: its size, last key and hash. The row hashes are
 * concatenated in the order the key-ordered subquery yields them (both sides alike: see
 * targetRangeHash); were a server ever to aggregate them in another order, the hashes would
 * differ and the chunk be read row by row, never pass unread.
 */
export async function sourceChunkHash(
  c: pg.Client,
  plan: TablePlan,
  lo: string[] | null,
  limit: number,
): Promise<ChunkHash> {
  const s = sideOf(plan, 'source');
  const values: unknown[] = [];
  const where = rangeWhere(plan, 'source', { lo, hi: null }, values, false);
  const chunk = `SELECT * FROM ${s.from} WHERE ${where} ORDER BY ${s.order} LIMIT $${values.push(limit)}`;
  const byMax = lastKeyByMax(plan, `x.k0`);
  const ks = s.keyText.map((k, i) => `${k} AS k${i}`).join(', ');
  const text = byMax
    ? `SELECT count(*)::int AS rows, md5(string_agg(h, '')) AS hash, ${byMax} AS last FROM ` +
      `(SELECT ${s.key} AS k0, ${rowHash(plan, 'source')} AS h FROM (${chunk}) x) x`
    : `WITH c AS (SELECT ${ks}, ${rowHash(plan, 'source')} AS h, row_number() OVER () AS n FROM (${chunk}) x) ` +
      `SELECT count(*)::int AS rows, md5(string_agg(h, '' ORDER BY n)) AS hash, ` +
      `(SELECT json_build_array(${s.keyText.map((_, i) => `k${i}`).join(', ')})::text FROM c ORDER BY n DESC LIMIT 1) AS last FROM c`;
  const r = await c.query<{ rows: number; hash: string | null; last: string | null }>(text, values);
  const row = r.rows[0]!;
  return { rows: row.rows, hash: row.hash, last: row.last ? (JSON.parse(row.last) as string[]) : null };
}

/** Rows and hash of a key range at a PostgreSQL target (live rows only), hashed in key order. */
export async function targetRangeHash(
  c: pg.Client,
  plan: TablePlan,
  range: KeyRange,
): Promise<{ rows: number; hash: string | null }> {
  const s = sideOf(plan, 'target');
  const values: unknown[] = [];
  const where = rangeWhere(plan, 'target', range, values, true);
  const text =
    `SELECT count(*)::int AS rows, md5(string_agg(h, '')) AS hash FROM ` +
    `(SELECT ${rowHash(plan, 'target')} AS h FROM ${s.from} WHERE ${where} ORDER BY ${s.order}) c`;
  const r = await c.query<{ rows: number; hash: string | null }>(text, values);
  return r.rows[0]!;
}

/** Source rows (every contract column, text) of a range, at most `limit`, in key order. */
export async function sourceRows(
  c: pg.Client,
  plan: TablePlan,
  range: KeyRange,
  limit: number,
): Promise<RawRow[]> {
  const s = sideOf(plan, 'source');
  const values: unknown[] = [];
  const where = rangeWhere(plan, 'source', range, values, false);
  const cols = plan.contract.columns.map((col) => `x.${q(col.name)}`).join(', ');
  const res = await c.query<RawRow>({
    text: `SELECT ${cols} FROM ${s.from} WHERE ${where} ORDER BY ${s.order} LIMIT $${values.push(limit)}`,
    values,
    rowMode: 'array',
    types: RAW_TEXT,
  });
  return res.rows;
}

/**
 * Source rows of these keys (contract columns, text), each followed by its row version (`xmin`:
 * the transaction that wrote this version of the row; any later write gives another), which the
 * settle step compares between its two reads.
 */
export async function sourceRowsByKeys(c: pg.Client, plan: TablePlan, keys: string[][]): Promise<RawRow[]> {
  const s = sideOf(plan, 'source');
  const values: unknown[] = [JSON.stringify(keys)];
  const cols = [...plan.contract.columns.map((col) => `x.${q(col.name)}`), 'x.xmin::text'].join(', ');
  const res = await c.query<RawRow>({
    text: `SELECT ${cols} FROM ${s.from} WHERE jsonb_build_array(${s.keyText.join(', ')}) IN (SELECT jsonb_array_elements($1::jsonb))`,
    values,
    rowMode: 'array',
    types: RAW_TEXT,
  });
  return res.rows;
}

function targetSelect(plan: TablePlan): string {
  const s = sideOf(plan, 'target');
  const { row } = targetFrom(plan);
  const cols = [...s.keyText, ...plan.columns.map((col) => `${row}.${q(col.name)}`)];
  return `SELECT ${cols.join(', ')}, (${removedExpr(plan)})::text AS removed, x."_pgcdc_lsn"::text AS position FROM ${s.from}`;
}

const toTargetRow = (plan: TablePlan, raw: RawRow): TargetRow =>
  targetRowOf(plan, raw.slice(0, -2), raw.at(-2) === 'true', raw.at(-1) ?? null);

/** A page of target rows (soft-deleted ones too) of a range, in key order. */
export async function targetRows(
  c: pg.Client,
  plan: TablePlan,
  range: KeyRange,
  limit: number,
): Promise<{ rows: TargetRow[]; last: string[] | null }> {
  const s = sideOf(plan, 'target');
  const values: unknown[] = [];
  const where = rangeWhere(plan, 'target', range, values, false);
  const res = await c.query<RawRow>({
    text: `${targetSelect(plan)} WHERE ${where} ORDER BY ${s.order} LIMIT $${values.push(limit)}`,
    values,
    rowMode: 'array',
    types: RAW_TEXT,
  });
  const lastRaw = res.rows.at(-1);
  return {
    rows: res.rows.map((r) => toTargetRow(plan, r)),
    last: lastRaw ? (lastRaw.slice(0, plan.key.length) as string[]) : null,
  };
}

export async function targetRowsByKeys(
  c: pg.Client,
  plan: TablePlan,
  keys: string[][],
): Promise<TargetRow[]> {
  const s = sideOf(plan, 'target');
  const res = await c.query<RawRow>({
    text: `${targetSelect(plan)} WHERE jsonb_build_array(${s.keyText.join(', ')}) IN (SELECT jsonb_array_elements($1::jsonb))`,
    values: [JSON.stringify(keys)],
    rowMode: 'array',
    types: RAW_TEXT,
  });
  return res.rows.map((r) => toTargetRow(plan, r));
}

/** A client of `url` in reconcile's session settings, for the duration of `fn`. */
export function withReconcileClient<T>(
  pgc: PgConnections,
  url: string,
  fn: (c: pg.Client) => Promise<T>,
): Promise<T> {
  return (async () => {
    const c = pgc.client(url, 'ops', 'pgcdc-reconcile', SESSION);
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end().catch(() => undefined);
    }
  })();
}
