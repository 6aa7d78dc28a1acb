// How reconcile reads a MySQL/MariaDB target's values back into the event domain, pure: each value
// as mysql2 returns it (integers, DECIMAL and DATETIME as text, TINYINT(1) as 0/1, JSON as text,
// BLOBs as bytes; reconcile's connection options in mysql.ts) becomes the domain value the sink was
// given, by the documented type mapping (consumers/mysql/types.ts; docs/mysql.md "Types"), so
// rows.ts compares it with the mapped source row in the same canonical form as a PostgreSQL target's.
// - booleans 1/0 -> true/false; DATETIME(6) is UTC (the sink's session), so timestamptz gains +00;
// - arrays are JSON arrays (integers exact, bytes base64, booleans 1/0, dates and times as text);
// - key values print as PostgreSQL prints them (scalarText), the form a source key is named in.
import type { ColumnSpec, ColumnValue, PgType, ScalarValue } from '../../schemas/contract.ts';
import { parseDate, parseTime, parseTimestamp } from '../../schemas/temporal.ts';
import { splitPgType, type PgScalarType } from '../../schemas/types.ts';
import { decodeColumn, parseTimestamptz, scalarText } from '../../schemas/values.ts';
import { toMysqlValue } from '../../consumers/mysql/types.ts';

/** A value as mysql2 returns it with reconcile's options. */
export type MysqlValue = string | number | bigint | Buffer | object | null;

const INTEGERS = new Set<PgScalarType>(['smallint', 'integer', 'bigint']);

const text = (v: Exclude<MysqlValue, null> | boolean): string =>
  Buffer.isBuffer(v) ? v.toString('utf8') : typeof v === 'object' ? JSON.stringify(v) : String(v);

function scalarOf(kind: PgScalarType, v: Exclude<MysqlValue, null> | boolean): ScalarValue {
  switch (kind) {
    case 'smallint':
    case 'integer':
      return Number(v);
    case 'bigint':
      return BigInt(text(v));
    case 'real':
    case 'double precision':
      return Number(v);
    case 'boolean':
      return v === true || v === 1 || v === '1' || v === 1n;
    case 'bytea':
      return Buffer.isBuffer(v) ? v : Buffer.from(text(v), 'base64');
    case 'date':
      return parseDate(text(v));
    case 'time':
      return parseTime(text(v));
    case 'timestamp':
      return parseTimestamp(text(v));
    case 'timestamptz':
      return parseTimestamptz(`${text(v)}+00`);
    case 'numeric':
    case 'text':
    case 'varchar':
    case 'char':
    case 'citext':
    case 'interval':
    case 'uuid':
    case 'json':
    case 'jsonb':
    case 'inet':
    case 'cidr':
    case 'enum':
      return text(v);
    default:
      return kind satisfies never;
  }
}

/** Elements of a JSON array of integers, exact (JSON.parse would round past 2^53). */
function integerElements(json: string): (string | null)[] {
  const inner = json.trim().replace(/^\[/, '').replace(/\]$/, '').trim();
  return inner === '' ? [] : inner.split(',').map((s) => (s.trim() === 'null' ? null : s.trim()));
}

/** A value read from a MySQL/MariaDB target column of this contract type -> its domain value. */
export function domainOfMysql(pgType: PgType, v: MysqlValue): ColumnValue {
  if (v === null) return null;
  const { kind, array } = splitPgType(pgType);
  if (!array) return scalarOf(kind, v);
  const json = text(v);
  const items = INTEGERS.has(kind) ? integerElements(json) : (JSON.parse(json) as unknown[]);
  return items.map((x) =>
    x === null ? null : scalarOf(kind, typeof x === 'object' ? JSON.stringify(x) : (x as string | number)),
  );
}

/** A key value read from the target, as PostgreSQL prints it (how reconcile names keys). */
export function keyTextOfMysql(spec: ColumnSpec, v: MysqlValue): string {
  const value = domainOfMysql(spec.pgType, v);
  if (value === null || Array.isArray(value)) return String(value);
  const kind = splitPgType(spec.pgType).kind;
  const out = scalarText(kind, value);
  // PostgreSQL prints fractional seconds without trailing zeros (and none for a whole second)
  return kind === 'time' || kind === 'timestamp' || kind === 'timestamptz'
    ? out.replace(/\.(\d*?)0+(?=$|[+-]| )/, (_, d: string) => (d ? `.${d}` : ''))
    : out;
}

/** A key part (PostgreSQL text) as a MySQL parameter, as the sink writes it. */
export function mysqlKeyParam(spec: ColumnSpec, part: string): unknown {
  return toMysqlValue(spec, decodeColumn(spec, part));
}
