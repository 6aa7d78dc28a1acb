// Independent comparison of the source table (PostgreSQL) with a MySQL/MariaDB target table: every
// contract column of every row, each side reduced to the same form by the documented type mapping
// (docs/mysql.md, "Types"): booleans as true/false, DECIMAL and numeric as canonical decimals,
// timestamptz and DATETIME(6) as UTC text with microseconds, JSON and arrays parsed. It reads
// both databases itself and shares no code with the sink, so a mapping bug shows as a difference.
import mysql from 'mysql2/promise';
import pg from 'pg';
import { isDeepStrictEqual } from 'node:util';
import type { ColumnSpec, PgType } from '../../schemas/contract.ts';

export interface MysqlCompareResult {
  equal: boolean;
  sourceRows: number;
  targetRows: number;
  /** up to 20 differences, e.g. "id 7 balance: source "1.5" target "1.25"" */
  differences: string[];
}

const qp = pg.escapeIdentifier;
const qm = (id: string) => `\`${id.replace(/`/g, '``')}\``;

/** The source column as text PostgreSQL prints the way MySQL will hold it. */
function sourceExpr(c: ColumnSpec): string {
  const col = qp(c.name);
  const pgType: PgType = c.pgType;
  switch (pgType) {
    case 'bigint':
    case 'jsonb':
    case 'numeric':
      return `${col}::text AS ${col}`;
    case 'text':
    case 'boolean':
      return col;
    case 'text[]':
      return `to_json(${col})::text AS ${col}`;
    case 'timestamptz':
      return `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS ${col}`;
    default:
      // the contract's other kinds (types.ts maps them): compared by their text form for now
      return `${col}::text AS ${col}`;
  }
}

const text = (v: unknown): string => (typeof v === 'object' ? JSON.stringify(v) : `${v as string}`);

/** One value in the form both sides are compared in. */
export function normalise(pgType: PgType, v: unknown): unknown {
  if (v === null || v === undefined) return null;
  switch (pgType) {
    case 'boolean':
      return v === true || v === 1 || v === '1';
    case 'jsonb':
    case 'text[]':
      return typeof v === 'string' ? (JSON.parse(v) as unknown) : v;
    case 'numeric': {
      const s = text(v);
      return s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
    }
    default:
      return text(v);
  }
}

export async function compareWithMysql(
  source: { url: string; schema: string; table: string },
  target: { url: string; table: string },
  columns: ColumnSpec[],
  key: string,
): Promise<MysqlCompareResult> {
  const c = new pg.Client({ connectionString: source.url });
  await c.connect();
  let src: Record<string, unknown>[];
  try {
    src = (
      await c.query<Record<string, unknown>>(
        `SELECT ${columns.map(sourceExpr).join(', ')} FROM ${qp(source.schema)}.${qp(source.table)}`,
      )
    ).rows;
  } finally {
    await c.end();
  }
  const m = await mysql.createConnection({
    uri: target.url,
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: true,
  });
  let dst: Record<string, unknown>[];
  try {
    const cols = columns.map((x) => qm(x.name)).join(', ');
    dst = (await m.query<mysql.RowDataPacket[]>(`SELECT ${cols} FROM ${qm(target.table)}`))[0];
  } finally {
    await m.end();
  }
  const byKey = new Map(dst.map((r) => [text(r[key]), r]));
  const differences: string[] = [];
  const note = (d: string) => differences.length < 20 && differences.push(d);
  let diff = 0;
  for (const s of src) {
    const k = text(s[key]);
    const d = byKey.get(k);
    byKey.delete(k);
    if (!d) {
      diff++;
      note(`${key} ${k} missing at the target`);
      continue;
    }
    for (const col of columns) {
      const [a, b] = [normalise(col.pgType, s[col.name]), normalise(col.pgType, d[col.name])];
      if (!isDeepStrictEqual(a, b)) {
        diff++;
        note(`${key} ${k} ${col.name}: source ${JSON.stringify(a)} target ${JSON.stringify(b)}`);
      }
    }
  }
  for (const k of byKey.keys()) {
    diff++;
    note(`${key} ${k} extra at the target`);
  }
  return { equal: diff === 0, sourceRows: src.length, targetRows: dst.length, differences };
}
