// The one place where contract types meet MySQL: the column type a created table gets for each
// PostgreSQL type of the contract, and how a domain value becomes a MySQL value. Pure. A value
// MySQL cannot hold (a timestamp outside DATETIME's years 1000-9999, infinity, a NaN numeric) is
// refused here with the reason, so the sink dead-letters it instead of letting MySQL change it.
// A new contract type fails to compile here (`satisfies never`) until it is mapped.
import type { ColumnSpec, ColumnValue, ScalarValue } from '../../schemas/contract.ts';
import { formatDate, formatTimestamp } from '../../schemas/temporal.ts';
import { splitPgType, type PgScalarType } from '../../schemas/types.ts';
import { TS_NEG_INFINITY, TS_POS_INFINITY, formatTimestamptz, scalarText } from '../../schemas/values.ts';

/** A value of the event the target type cannot represent; the event is dead-lettered with this. */
export class UnrepresentableValueError extends Error {
  constructor(
    readonly column: string,
    reason: string,
  ) {
    super(`column ${column}: ${reason}`);
    this.name = 'UnrepresentableValueError';
  }
}

/** Text key columns need a length (an index on TEXT needs a prefix, which would be a lie). */
const KEY_TEXT = 'VARCHAR(768)';

/** MySQL column type of a contract column in a table pgcdc creates. Arrays become JSON arrays. */
export function mysqlColumnType(c: ColumnSpec, isKey: boolean): string {
  const { kind, array } = splitPgType(c.pgType);
  if (array) return 'JSON';
  switch (kind) {
    case 'smallint':
      return 'SMALLINT';
    case 'integer':
      return 'INT';
    case 'bigint':
      return 'BIGINT';
    case 'real':
      return 'FLOAT';
    case 'double precision':
      return 'DOUBLE';
    case 'numeric':
      return decimalType(c.sqlType);
    case 'text':
    case 'citext':
    case 'interval':
      return isKey ? KEY_TEXT : 'LONGTEXT';
    case 'varchar':
    case 'char': {
      // char(n) keeps PostgreSQL's padding as text: VARCHAR, because MySQL's CHAR strips it
      const n = Number(/\(\s*(\d+)\s*\)/.exec(c.sqlType)?.[1] ?? NaN);
      return Number.isInteger(n) && n <= 16_383 ? `VARCHAR(${n})` : isKey ? KEY_TEXT : 'LONGTEXT';
    }
    case 'uuid':
      return 'CHAR(36)';
    case 'inet':
    case 'cidr':
      return 'VARCHAR(49)';
    case 'enum':
      return 'VARCHAR(255)';
    case 'boolean':
      return 'BOOLEAN';
    case 'json':
    case 'jsonb':
      return 'JSON';
    case 'bytea':
      return isKey ? 'VARBINARY(768)' : 'LONGBLOB';
    case 'date':
      return 'DATE';
    case 'time':
      return 'TIME(6)';
    case 'timestamp':
    case 'timestamptz':
      return 'DATETIME(6)';
    default:
      return kind satisfies never;
  }
}

/** numeric(p,s) -> DECIMAL(p,s); numeric without a precision -> DECIMAL(65,30), MySQL's widest. */
export function decimalType(sqlType: string): string {
  const m = /\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)/.exec(sqlType);
  if (!m) return 'DECIMAL(65,30)';
  const p = Number(m[1]);
  const s = Number(m[2] ?? 0);
  return `DECIMAL(${Math.min(p, 65)},${Math.min(s, 30)})`;
}

/** splitPgType per contract type, once (it is asked for every value of every row). */
const kinds = new Map<string, { kind: PgScalarType; array: boolean }>();
function kindOf(t: ColumnSpec['pgType']): { kind: PgScalarType; array: boolean } {
  let k = kinds.get(t);
  if (!k) kinds.set(t, (k = splitPgType(t)));
  return k;
}

/** DATETIME holds years 1000-9999 (documented range of MySQL and MariaDB). */
const DATETIME_MIN = -30610224000000000n; // 1000-01-01 00:00:00 UTC, microseconds
const DATETIME_MAX = 253402300799999999n; // 9999-12-31 23:59:59.999999 UTC

const DECIMAL_RE = /^-?\d+(\.\d+)?$/;

/**
 * Domain value -> value for mysql2's client-side formatting: integers stay exact (bigint written as
 * a literal), booleans 1/0, JSON and arrays as JSON text, bytes as a Buffer, dates and times as
 * MySQL literals (timestamptz in UTC).
 */
export function toMysqlValue(c: ColumnSpec, value: ColumnValue): string | bigint | number | Buffer | null {
  if (value === null) return null;
  const { kind, array } = kindOf(c.pgType);
  if (array) return jsonArray(c.name, kind, value as (ScalarValue | null)[]);
  return scalarValue(c.name, kind, value as ScalarValue);
}

function scalarValue(
  column: string,
  kind: PgScalarType,
  value: ScalarValue,
): string | bigint | number | Buffer {
  switch (kind) {
    case 'smallint':
    case 'integer':
    case 'bigint':
      return value as number | bigint;
    case 'real':
    case 'double precision':
      if (!Number.isFinite(value))
        throw new UnrepresentableValueError(column, `${kind} ${String(value)} has no value in MySQL`);
      return value as number;
    case 'numeric':
      if (!DECIMAL_RE.test(value as string))
        throw new UnrepresentableValueError(
          column,
          `numeric "${value as string}" has no DECIMAL value in MySQL`,
        );
      return value as string;
    case 'boolean':
      return value ? 1 : 0;
    case 'bytea':
      return value as Buffer;
    case 'date':
      return mysqlDate(column, value as number);
    case 'timestamp':
      return datetime(column, value as bigint, 'timestamp');
    case 'timestamptz':
      return datetime(column, value as bigint);
    default:
      // time and the text kinds: MySQL reads PostgreSQL's text form of them as is (scalarText is
      // exhaustive; a new kind still has to be placed in mysqlColumnType above)
      return scalarText(kind, value);
  }
}

/** A one-dimensional array as a JSON array (integers exact, bytes as base64, dates as text). */
function jsonArray(column: string, kind: PgScalarType, values: (ScalarValue | null)[]): string {
  const items = values.map((v) => {
    if (v === null) return 'null';
    const m = scalarValue(column, kind, v);
    if (typeof m === 'bigint' || typeof m === 'number') return String(m);
    if (Buffer.isBuffer(m)) return JSON.stringify(m.toString('base64'));
    return JSON.stringify(m);
  });
  return `[${items.join(',')}]`;
}

/** days since 1970 -> 'YYYY-MM-DD' within DATE's years 1000-9999, or why it cannot be one. */
function mysqlDate(column: string, days: number): string {
  const text = formatDate(days);
  if (!/^\d{4}-\d\d-\d\d$/.test(text) || text < '1000-01-01')
    throw new UnrepresentableValueError(
      column,
      `date ${text} is outside DATE's range (years 1000 to 9999) in MySQL`,
    );
  return text;
}

/** microseconds since 1970 -> 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC), or why it cannot be one. */
export function datetime(
  column: string,
  us: bigint,
  kind: 'timestamp' | 'timestamptz' = 'timestamptz',
): string {
  if (us === TS_POS_INFINITY || us === TS_NEG_INFINITY)
    throw new UnrepresentableValueError(
      column,
      `${kind} ${us === TS_POS_INFINITY ? 'infinity' : '-infinity'} has no DATETIME value in MySQL`,
    );
  if (us < DATETIME_MIN || us > DATETIME_MAX)
    throw new UnrepresentableValueError(
      column,
      `${kind} ${formatTimestamp(us)}${kind === 'timestamptz' ? ' UTC' : ''} is outside DATETIME's range (years 1000 to 9999) in MySQL`,
    );
  return datetimeText(us);
}

const P2 = Array.from({ length: 100 }, (_, i) => (i < 10 ? `0${i}` : `${i}`));
const DAY_US = 86_400_000_000;

/**
 * microseconds since 1970 within DATETIME's range -> 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC), the
 * same text as formatTimestamptz(us).slice(0, 26) (unit-tested against it). Three timestamps a
 * row: within the years 1685 to 2255 (a safe integer of microseconds: every value there is exact
 * as a number) the date comes from number arithmetic (the civil-from-days algorithm), at about
 * half the cost of the bigint arithmetic, which the rest of the range keeps.
 */
export function datetimeText(us: bigint): string {
  const n = Number(us);
  if (!Number.isSafeInteger(n)) return formatTimestamptz(us).slice(0, 26);
  const days = Math.floor(n / DAY_US);
  let rest = n - days * DAY_US;
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  const h = Math.floor(rest / 3_600_000_000);
  rest -= h * 3_600_000_000;
  const mi = Math.floor(rest / 60_000_000);
  rest -= mi * 60_000_000;
  const sec = Math.floor(rest / 1_000_000);
  rest -= sec * 1_000_000;
  return `${y}-${P2[m]}-${P2[d]} ${P2[h]}:${P2[mi]}:${P2[sec]}.${String(rest).padStart(6, '0')}`;
}
