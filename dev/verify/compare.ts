// Row-by-row comparison of the source table with a target table, over the contract's columns.
// Each row is reduced to an md5 of its text form on the server; differing rows are then fetched
// column by column to name what differs.
import pg from 'pg';
import type { ColumnSpec } from '../../schemas/contract.ts';

export interface TableRef {
  url: string;
  schema: string;
  table: string;
}

export interface CompareResult {
  equal: boolean;
  sourceRows: number;
  targetRows: number;
  missing: string[];
  extra: string[];
  different: { id: string; columns: string[] }[];
}

const q = pg.escapeIdentifier;

/** The key as text: the column's text, or a composite key's row text, e.g. (5,7). */
const keyText = (key: string | string[]) =>
  Array.isArray(key) ? `ROW(${key.map((k) => q(k)).join(', ')})::text` : `${q(key)}::text`;

async function digests(
  ref: TableRef,
  columns: ColumnSpec[],
  key: string | string[],
): Promise<Map<string, string>> {
  const c = new pg.Client({ connectionString: ref.url, options: '-c TimeZone=UTC -c extra_float_digits=3' });
  await c.connect();
  try {
    const cols = columns.map((col) => `${q(col.name)}::text`).join(', ');
    const res = await c.query<{ id: string; h: string }>({
      text: `SELECT ${keyText(key)} AS id, md5(ROW(${cols})::text) AS h FROM ${q(ref.schema)}.${q(ref.table)}`,
    });
    return new Map(res.rows.map((r) => [r.id, r.h]));
  } finally {
    await c.end();
  }
}

async function rowText(
  ref: TableRef,
  columns: ColumnSpec[],
  key: string | string[],
  id: string,
): Promise<Record<string, string | null>> {
  const c = new pg.Client({ connectionString: ref.url, options: '-c TimeZone=UTC -c extra_float_digits=3' });
  await c.connect();
  try {
    const cols = columns.map((col) => `${q(col.name)}::text AS ${q(col.name)}`).join(', ');
    const res = await c.query<Record<string, string | null>>(
      `SELECT ${cols} FROM ${q(ref.schema)}.${q(ref.table)} WHERE ${keyText(key)} = $1`,
      [id],
    );
    return res.rows[0] ?? {};
  } finally {
    await c.end();
  }
}

export async function compareTables(
  source: TableRef,
  target: TableRef,
  columns: ColumnSpec[],
  /** the key column, or a composite key's columns */
  key: string | string[] = 'id',
  detailLimit = 20,
): Promise<CompareResult> {
  const [s, t] = await Promise.all([digests(source, columns, key), digests(target, columns, key)]);
  const missing: string[] = [];
  const differentIds: string[] = [];
  for (const [id, h] of s) {
    const th = t.get(id);
    if (th === undefined) missing.push(id);
    else if (th !== h) differentIds.push(id);
  }
  const extra = [...t.keys()].filter((id) => !s.has(id));
  const different: CompareResult['different'] = [];
  for (const id of differentIds.slice(0, detailLimit)) {
    const [a, b] = await Promise.all([rowText(source, columns, key, id), rowText(target, columns, key, id)]);
    different.push({ id, columns: columns.map((c) => c.name).filter((n) => a[n] !== b[n]) });
  }
  return {
    equal: missing.length === 0 && extra.length === 0 && differentIds.length === 0,
    sourceRows: s.size,
    targetRows: t.size,
    missing,
    extra,
    different,
  };
}

export function describeComparison(r: CompareResult): string {
  if (r.equal) return `peer equals source: ${r.sourceRows} rows, every column identical`;
  const parts = [`peer differs from source (source ${r.sourceRows} rows, peer ${r.targetRows})`];
  if (r.missing.length)
    parts.push(`missing at peer: ${r.missing.slice(0, 10).join(', ')}${r.missing.length > 10 ? ' ...' : ''}`);
  if (r.extra.length) parts.push(`extra at peer: ${r.extra.slice(0, 10).join(', ')}`);
  for (const d of r.different) parts.push(`id ${d.id}: ${d.columns.join(', ')}`);
  return parts.join('\n  ');
}
