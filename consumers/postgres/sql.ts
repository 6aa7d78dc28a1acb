// SQL for the PostgreSQL sink, built from the contract. Identifiers are validated by the config
// schema and quoted here; values are always parameters. Every write is guarded by the source
// position (commit_lsn, seq) stored in the row, so a re-delivered or replayed event never moves a
// row backwards.
// Deletes leave a marker of their position (deleted.ts) that inserts respect, so nothing older than
// a delete brings its row back; a truncate leaves the table's mark (truncated.ts), likewise.
import type { ChangeEvent, ColumnSpec, ColumnValue, Row, ScalarValue } from '../../schemas/contract.ts';
import { splitPgType } from '../../schemas/types.ts';
import { scalarText, toSqlParam } from '../../schemas/values.ts';
import { deletedTable, insertMarkersSql, notDeletedLater } from './deleted.ts';
import { notTruncatedLater, truncateSql, truncatedLaterSql } from './truncated.ts';
import {
  EVENT_ID,
  POS_LSN,
  POS_SEQ,
  SYNCED_AT,
  columnSpec,
  enumTypesSql,
  qname,
  quoteIdent,
  type TargetTable,
} from './table.ts';

export { EVENT_ID, POS_LSN, POS_SEQ, SYNCED_AT, quoteIdent, type TargetTable } from './table.ts';

export interface Statement {
  text: string;
  values: unknown[];
}

/**
 * DDL of a target table: the contract's columns (no secondary unique constraints), plus bookkeeping;
 * preceded by the enum types it uses (enumTypesSql). Several statements: run as a simple query.
 */
export function createTableSql(t: TargetTable): string {
  const cols = t.columns.map((c) => `  ${quoteIdent(c.name)} ${c.sqlType}${c.nullable ? '' : ' NOT NULL'}`);
  cols.push(
    `  ${quoteIdent(POS_LSN)} bigint NOT NULL`,
    `  ${quoteIdent(POS_SEQ)} bigint NOT NULL`,
    `  ${quoteIdent(EVENT_ID)} text NOT NULL`,
    `  ${quoteIdent(SYNCED_AT)} timestamptz NOT NULL DEFAULT clock_timestamp()`,
    `  PRIMARY KEY (${t.keyColumns.map(quoteIdent).join(', ')})`,
  );
  return [...enumTypesSql(t), `CREATE TABLE IF NOT EXISTS ${qname(t)} (\n${cols.join(',\n')}\n)`].join(';\n');
}

function position(e: ChangeEvent): unknown[] {
  return [e.source.commit_lsn.toString(), e.source.seq.toString(), e.event_id];
}

const guard = (alias: string, lsnParam: string, seqParam: string) =>
  `(${alias}.${quoteIdent(POS_LSN)}, ${alias}.${quoteIdent(POS_SEQ)}) < (${lsnParam}::bigint, ${seqParam}::bigint)`;

/**
 * Insert or update the full row, unless the stored row is from a later position or the key was
 * deleted at a later position (its marker).
 */
export function upsertSql(t: TargetTable, e: ChangeEvent): Statement {
  const row = e.after!;
  const names = [...t.columns.map((c) => c.name), POS_LSN, POS_SEQ, EVENT_ID];
  const types = [...t.columns.map((c) => c.sqlType), 'bigint', 'bigint', 'text'];
  const values = [...t.columns.map((c) => toSqlParam(c.pgType, row[c.name] ?? null)), ...position(e)];
  const n = names.length;
  const updates = names
    .filter((c) => !t.keyColumns.includes(c))
    .map((c) => `${quoteIdent(c)} = EXCLUDED.${quoteIdent(c)}`)
    .concat(`${quoteIdent(SYNCED_AT)} = clock_timestamp()`);
  const text =
    `INSERT INTO ${qname(t)} AS t (${names.map(quoteIdent).join(', ')}) ` +
    `SELECT ${names.map((c) => `v.${quoteIdent(c)}`).join(', ')} ` +
    `FROM (VALUES (${names.map((_, i) => `$${i + 1}::${types[i]!}`).join(', ')})) AS v (${names.map(quoteIdent).join(', ')}) ` +
    `WHERE ${notDeletedLater(t, 'v')} AND ${notTruncatedLater(t, 'v')} ` +
    `ON CONFLICT (${t.keyColumns.map(quoteIdent).join(', ')}) DO UPDATE SET ${updates.join(', ')} ` +
    `WHERE ${guard('t', `$${n - 2}`, `$${n - 1}`)}`;
  return { text, values };
}

/**
 * Update only the columns the event carries (the others were unchanged TOAST values the source
 * did not send). Returns 0 rows both when the row is newer (fine) and when it is missing.
 */
export function partialUpdateSql(t: TargetTable, e: ChangeEvent): Statement {
  const row = e.after!;
  const skip = new Set([...e.unchanged, ...t.keyColumns]);
  const cols = t.columns.filter((c) => !skip.has(c.name));
  const values: unknown[] = cols.map((c) => toSqlParam(c.pgType, row[c.name] ?? null));
  const sets = cols.map((c, i) => `${quoteIdent(c.name)} = $${i + 1}`);
  const base = values.length;
  values.push(...position(e));
  sets.push(
    `${quoteIdent(POS_LSN)} = $${base + 1}`,
    `${quoteIdent(POS_SEQ)} = $${base + 2}`,
    `${quoteIdent(EVENT_ID)} = $${base + 3}`,
  );
  sets.push(`${quoteIdent(SYNCED_AT)} = clock_timestamp()`);
  const where = keyWhere(t, row, values);
  const text = `UPDATE ${qname(t)} AS t SET ${sets.join(', ')} WHERE ${where} AND ${guard('t', `$${base + 1}`, `$${base + 2}`)}`;
  return { text, values };
}

export function existsSql(t: TargetTable, key: Row): Statement {
  const values: unknown[] = [];
  return { text: `SELECT 1 FROM ${qname(t)} AS t WHERE ${keyWhere(t, key, values)}`, values };
}

/**
 * Delete the row unless the stored row is from a later position, and leave the delete's marker
 * (which only ever moves forward) in the same statement.
 */
export function deleteSql(t: TargetTable, e: ChangeEvent, key: Row): Statement {
  const values: unknown[] = [];
  const where = keyWhere(t, key, values);
  values.push(e.source.commit_lsn.toString(), e.source.seq.toString(), e.event_id);
  const n = values.length;
  const keyTypes = t.keyColumns.map((k, i) => `$${i + 1}::${columnSpec(t, k).sqlType}`);
  const cols = [...t.keyColumns, POS_LSN, POS_SEQ, EVENT_ID].map(quoteIdent).join(', ');
  const marker = `(VALUES (${[...keyTypes, `$${n - 2}::bigint`, `$${n - 1}::bigint`, `$${n}::text`].join(', ')})) AS s (${cols})`;
  return {
    text:
      `WITH del AS (DELETE FROM ${qname(t)} AS t WHERE ${where} AND ${guard('t', `$${n - 2}`, `$${n - 1}`)}) ` +
      insertMarkersSql(t, marker),
    values,
  };
}

/** Is the key deleted (a marker) or the table truncated at or after the event's position? */
export function deletedLaterSql(t: TargetTable, key: Row, e: ChangeEvent): Statement {
  const values: unknown[] = [];
  const where = keyWhere(t, key, values, 'd');
  values.push(e.source.commit_lsn.toString(), e.source.seq.toString());
  const n = values.length;
  return {
    text:
      `SELECT 1 FROM ${deletedTable(t)} AS d WHERE ${where} AND (d.${quoteIdent(POS_LSN)}, d.${quoteIdent(POS_SEQ)}) >= ($${n - 1}::bigint, $${n}::bigint) ` +
      `UNION ALL ${truncatedLaterSql(t, `$${n - 1}`, `$${n}`)}`,
    values,
  };
}

function keyWhere(t: TargetTable, key: Row, values: unknown[], alias = 't'): string {
  return t.keyColumns
    .map((k) => {
      values.push(toSqlParam(columnSpec(t, k).pgType, key[k] ?? null));
      return `${alias}.${quoteIdent(k)} = $${values.length}`;
    })
    .join(' AND ');
}

/** The statement that applies one event. */
export function applySql(t: TargetTable, e: ChangeEvent, key: Row): Statement {
  switch (e.op) {
    case 'c':
    case 'r':
    case 'u':
      return e.unchanged.length > 0 ? partialUpdateSql(t, e) : upsertSql(t, e);
    case 'd':
      return deleteSql(t, e, key);
    case 't':
      return truncateSql(t, e);
    default:
      return e.op satisfies never;
  }
}

type Positioned = { event: Pick<ChangeEvent, 'source'> };
const byPosition = (a: Positioned, b: Positioned): number => {
  const x = a.event.source;
  const y = b.event.source;
  if (x.commit_lsn !== y.commit_lsn) return x.commit_lsn < y.commit_lsn ? -1 : 1;
  return x.seq < y.seq ? -1 : x.seq > y.seq ? 1 : 0;
};
const inPositionOrder = (chain: Positioned[]): boolean => {
  for (let i = 1; i < chain.length; i++) if (byPosition(chain[i - 1]!, chain[i]!) > 0) return false;
  return true;
};

/** What a batch comes down to once each key's events are folded into one change (see collapseBatch). */
export interface CollapsedBatch<E> {
  /** full rows (an update's unchanged columns filled from an earlier event of the batch) */
  upserts: E[];
  /** updates whose unchanged columns no event of the batch carries: the target's values stay */
  partials: E[];
  deletes: E[];
}

/**
 * Folds a partition batch into one change per key: the position guard makes the key's event with
 * the latest source position decide the row, so a key's events are folded in source-position
 * order. That is their arrival order, except when an older change was published again behind a
 * newer one (a producer's re-send): applied one by one the guard would drop it, and so does the
 * fold. An update without some columns (unchanged TOASTed values) takes them from the key's
 * earlier events of the batch when they carry them, and otherwise stays a partial update of the
 * columns it has. The folded event keeps the position of the key's latest event.
 */
export function collapseBatch<E extends { key: Row; event: ChangeEvent }>(
  events: E[],
  keyColumns: string[],
): CollapsedBatch<E> {
  const chains = new Map<string, E[]>();
  for (const e of events) {
    const k = keyColumns.map((c) => String(e.key[c])).join('\u0000');
    const chain = chains.get(k);
    if (chain) {
      chains.delete(k); // keep source order of the survivors (by their last event)
      chain.push(e);
      chains.set(k, chain);
    } else chains.set(k, [e]);
  }
  const out: CollapsedBatch<E> = { upserts: [], partials: [], deletes: [] };
  for (const chain of chains.values()) {
    if (!inPositionOrder(chain)) chain.sort(byPosition); // stable: equal positions keep arrival order
    const last = chain[chain.length - 1]!;
    if (last.event.op === 'd') out.deletes.push(last);
    else if (last.event.unchanged.length === 0) out.upserts.push(last);
    else {
      const need = new Set(last.event.unchanged);
      const row: Row = { ...last.event.after };
      for (let i = chain.length - 2; i >= 0 && need.size > 0; i--) {
        const prev = chain[i]!.event;
        if (prev.op === 'd' || !prev.after) break;
        for (const col of [...need]) {
          if (prev.unchanged.includes(col)) continue;
          row[col] = prev.after[col] ?? null;
          need.delete(col);
        }
      }
      const unchanged = last.event.unchanged.filter((c) => need.has(c));
      const folded = { ...last, event: { ...last.event, after: row, unchanged } };
      (unchanged.length === 0 ? out.upserts : out.partials).push(folded);
    }
  }
  return out;
}

/**
 * One guarded multi-row UPDATE of the columns partial updates carry (all of them must leave the
 * same columns unchanged). Returns the keys it updated; a key not returned was either newer at the
 * target (fine) or missing there (for the caller to find out).
 */
export function multiPartialUpdateSql(t: TargetTable, events: ChangeEvent[], base = 0): Statement {
  const e0 = events[0]!;
  const skip = new Set([...e0.unchanged, ...t.keyColumns]);
  const keys = t.keyColumns.map((k) => t.columns.find((c) => c.name === k)!);
  const cols = t.columns.filter((c) => !skip.has(c.name));
  const v = unnestRows([...keys, ...cols], events, base);
  const sets = [...cols.map((c) => c.name), POS_LSN, POS_SEQ, EVENT_ID]
    .map((c) => `${quoteIdent(c)} = v.${quoteIdent(c)}`)
    .concat(`${quoteIdent(SYNCED_AT)} = clock_timestamp()`);
  const match = keys.map((k) => `t.${quoteIdent(k.name)} = v.${quoteIdent(k.name)}`).join(' AND ');
  const text =
    `UPDATE ${qname(t)} AS t SET ${sets.join(', ')} FROM (${v.select}) AS v ` +
    `WHERE ${match} AND (t.${quoteIdent(POS_LSN)}, t.${quoteIdent(POS_SEQ)}) < (v.${quoteIdent(POS_LSN)}, v.${quoteIdent(POS_SEQ)}) ` +
    `RETURNING ${keys.map((k) => `t.${quoteIdent(k.name)}::text`).join(', ')}`;
  return { text, values: v.values };
}

/**
 * Rows as one array parameter per column (the given columns of each event's `after`, then its
 * position): `SELECT ... FROM unnest($1::bigint[], ...) AS u(...)`, whose text depends on the
 * columns only, never on the number of rows; PostgreSQL parses one array per column instead of a
 * scalar per row and column. Array-typed columns travel as their literal text (unnest would
 * flatten a 2-D array) and are cast back. Parameters are numbered from `base` + 1.
 */
function unnestRows(
  cols: ColumnSpec[],
  events: ChangeEvent[],
  base = 0,
): { names: string[]; select: string; values: unknown[][] } {
  const names = [...cols.map((c) => c.name), POS_LSN, POS_SEQ, EVENT_ID];
  const types = [...cols.map((c) => c.sqlType), 'bigint', 'bigint', 'text'];
  const values: unknown[][] = names.map(() => new Array<unknown>(events.length));
  const params = paramsOf(cols);
  for (let r = 0; r < events.length; r++) {
    const e = events[r]!;
    const row = e.after!;
    for (let i = 0; i < cols.length; i++) {
      const v = row[cols[i]!.name] ?? null;
      values[i]![r] = v === null ? null : params[i]!(v);
    }
    values[cols.length]![r] = e.source.commit_lsn.toString();
    values[cols.length + 1]![r] = e.source.seq.toString();
    values[cols.length + 2]![r] = e.event_id;
  }
  const arrays = types.map((ty, i) => `$${base + i + 1}::${isArrayType(ty) ? 'text' : ty}[]`);
  const exprs = names.map((n, i) =>
    isArrayType(types[i]!) ? `u.${quoteIdent(n)}::${types[i]!} AS ${quoteIdent(n)}` : `u.${quoteIdent(n)}`,
  );
  const select = `SELECT ${exprs.join(', ')} FROM unnest(${arrays.join(', ')}) AS u(${names.map(quoteIdent).join(', ')})`;
  return { names, select, values };
}

/**
 * Which of these keys (single-column key) exist at the target, or were deleted (or the table
 * truncated) at or after the position of the event given with them (such an event is superseded,
 * not missing), as text.
 */
export function existingKeysSql(t: TargetTable, items: { key: Row; event: ChangeEvent }[]): Statement {
  const k = t.keyColumns[0]!;
  const spec = columnSpec(t, k);
  const q = quoteIdent(k);
  return {
    text:
      `SELECT t.${q}::text AS k FROM ${qname(t)} AS t WHERE t.${q} = ANY ($1::${spec.sqlType}[]) UNION ` +
      `SELECT d.${q}::text FROM ${deletedTable(t)} AS d JOIN unnest($1::${spec.sqlType}[], $2::bigint[], $3::bigint[]) AS e (k, lsn, seq) ` +
      `ON d.${q} = e.k AND (d.${quoteIdent(POS_LSN)}, d.${quoteIdent(POS_SEQ)}) >= (e.lsn, e.seq) UNION ` +
      `SELECT e.k::text FROM unnest($1::${spec.sqlType}[], $2::bigint[], $3::bigint[]) AS e (k, lsn, seq) ` +
      `WHERE EXISTS (${truncatedLaterSql(t, 'e.lsn', 'e.seq')})`,
    values: [
      items.map((i) => toSqlParam(spec.pgType, i.key[k] ?? null)),
      items.map((i) => i.event.source.commit_lsn.toString()),
      items.map((i) => i.event.source.seq.toString()),
    ],
  };
}

/** One multi-row guarded upsert for full-row events of distinct keys (none inserted behind its marker). */
export function multiUpsertSql(t: TargetTable, events: ChangeEvent[], base = 0): Statement {
  const rows = unnestRows(t.columns, events, base);
  const names = rows.names;
  const updates = names
    .filter((c) => !t.keyColumns.includes(c))
    .map((c) => `${quoteIdent(c)} = EXCLUDED.${quoteIdent(c)}`)
    .concat(`${quoteIdent(SYNCED_AT)} = clock_timestamp()`);
  const guardExcluded = `(t.${quoteIdent(POS_LSN)}, t.${quoteIdent(POS_SEQ)}) < (EXCLUDED.${quoteIdent(POS_LSN)}, EXCLUDED.${quoteIdent(POS_SEQ)})`;
  const text =
    `INSERT INTO ${qname(t)} AS t (${names.map(quoteIdent).join(', ')}) ${rows.select} ` +
    `WHERE ${notDeletedLater(t, 'u')} AND ${notTruncatedLater(t, 'u')} ON CONFLICT (${t.keyColumns.map(quoteIdent).join(', ')}) DO UPDATE SET ${updates.join(', ')} WHERE ${guardExcluded}`;
  return { text, values: rows.values };
}

const isArrayType = (sqlType: string) => sqlType.endsWith('[]');

type ToParam = (v: NonNullable<ColumnValue>) => unknown;
/**
 * Per column, its non-null value -> the element of its unnest array: toSqlParam, with the type
 * worked out once per column list (not per value); an array-typed column's value as its literal.
 */
const paramsByColumns = new WeakMap<ColumnSpec[], ToParam[]>();
function paramsOf(cols: ColumnSpec[]): ToParam[] {
  let params = paramsByColumns.get(cols);
  if (params) return params;
  params = cols.map((c): ToParam => {
    if (isArrayType(c.sqlType)) return (v) => arrayLiteral(toSqlParam(c.pgType, v) as (string | null)[]);
    const { kind } = splitPgType(c.pgType);
    return kind === 'boolean' ? (v) => v : (v) => scalarText(kind, v as ScalarValue);
  });
  paramsByColumns.set(cols, params);
  return params;
}

/** A one-dimensional array value as PostgreSQL's array input syntax: {"a","b",NULL}. */
export function arrayLiteral(items: (string | null)[]): string {
  const quote = (x: string) => `"${x.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  return `{${items.map((x) => (x === null ? 'NULL' : quote(x))).join(',')}}`;
}

/**
 * The parts of a guarded delete of many keys (single-column keys), parameters numbered from
 * `base` + 1: `source`, a SELECT of the keys with their positions and event ids, and `del`, the
 * DELETE of those older than them from a FROM item `<from> AS s` of that SELECT. The markers are
 * insertMarkersSql(t, '<from> AS s').
 */
export function multiDeleteParts(
  t: TargetTable,
  items: { key: Row; event: ChangeEvent }[],
  base = 0,
): { source: string; del: (from: string) => string; values: unknown[] } {
  const k = t.keyColumns[0]!;
  const spec = columnSpec(t, k);
  const values = [
    items.map((i) => toSqlParam(spec.pgType, i.key[k] ?? null)),
    items.map((i) => i.event.source.commit_lsn.toString()),
    items.map((i) => i.event.source.seq.toString()),
    items.map((i) => i.event.event_id),
  ];
  const [q, lsn, seq, id] = [k, POS_LSN, POS_SEQ, EVENT_ID].map(quoteIdent) as [
    string,
    string,
    string,
    string,
  ];
  const p = (i: number) => `$${base + i}`;
  return {
    source: `SELECT unnest(${p(1)}::${spec.sqlType}[]) AS ${q}, unnest(${p(2)}::bigint[]) AS ${lsn}, unnest(${p(3)}::bigint[]) AS ${seq}, unnest(${p(4)}::text[]) AS ${id}`,
    del: (from) =>
      `DELETE FROM ${qname(t)} AS t USING ${from} AS s ` +
      `WHERE t.${q} = s.${q} AND (t.${lsn}, t.${seq}) < (s.${lsn}, s.${seq})`,
    values,
  };
}

/** One guarded delete for many keys (single-column keys), leaving their markers. */
export function multiDeleteSql(t: TargetTable, items: { key: Row; event: ChangeEvent }[]): Statement {
  const d = multiDeleteParts(t, items);
  const text = `WITH s AS (${d.source}), del AS (${d.del('s')}) ${insertMarkersSql(t, 's')}`;
  return { text, values: d.values };
}
