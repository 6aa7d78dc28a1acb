// The one place where contract types meet MySQL: the column type a created table gets for each
// PostgreSQL type of the contract, and how a domain value becomes a MySQL value. Pure. A value
// MySQL cannot hold (a timestamp outside DATETIME's years 1000-9999, infinity, a NaN numeric) is
// refused here with the reason, so the sink dead-letters it instead of letting MySQL change it.
// A new contract type fails to compile here (`satisfies never`) until it is mapped.
import type { ColumnSpec, ColumnValue, PgType } from '../../schemas/contract.ts';
import { TS_NEG_INFINITY, TS_POS_INFINITY, formatTimestamptz } from '../../schemas/values.ts';

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

/** MySQL column type of a contract column in a table pgcdc creates. */
export function mysqlColumnType(c: ColumnSpec, isKey: boolean): string {
  const pgType: PgType = c.pgType;
  switch (pgType) {
    case 'bigint':
      return 'BIGINT';
    case 'text':
      return isKey ? KEY_TEXT : 'LONGTEXT';
    case 'boolean':
      return 'BOOLEAN';
    case 'jsonb':
    case 'text[]':
      return 'JSON';
    case 'numeric':
      return decimalType(c.sqlType);
    case 'timestamptz':
      return 'DATETIME(6)';
    default:
      return pgType satisfies never;
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

/** DATETIME holds years 1000-9999 (documented range of MySQL and MariaDB). */
const DATETIME_MIN = -30610224000000000n; // 1000-01-01 00:00:00 UTC, microseconds
const DATETIME_MAX = 253402300799999999n; // 9999-12-31 23:59:59.999999 UTC

const DECIMAL_RE = /^-?\d+(\.\d+)?$/;

/**
 * Domain value -> value for mysql2's client-side formatting: bigint stays a bigint (written as a
 * literal, exact), booleans 1/0, JSON as its text, a timestamp as a UTC DATETIME literal.
 */
export function toMysqlValue(c: ColumnSpec, value: ColumnValue): string | bigint | number | null {
  if (value === null) return null;
  const pgType: PgType = c.pgType;
  switch (pgType) {
    case 'bigint':
      return value as bigint;
    case 'text':
    case 'jsonb':
      return value as string;
    case 'boolean':
      return value ? 1 : 0;
    case 'text[]':
      return JSON.stringify(value);
    case 'numeric': {
      const text = value as string;
      if (!DECIMAL_RE.test(text))
        throw new UnrepresentableValueError(c.name, `numeric "${text}" has no DECIMAL value in MySQL`);
      return text;
    }
    case 'timestamptz':
      return datetime(c.name, value as bigint);
    default:
      return pgType satisfies never;
  }
}

/** microseconds since 1970 -> 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC), or why it cannot be one. */
export function datetime(column: string, us: bigint): string {
  if (us === TS_POS_INFINITY || us === TS_NEG_INFINITY)
    throw new UnrepresentableValueError(
      column,
      `timestamptz ${us === TS_POS_INFINITY ? 'infinity' : '-infinity'} has no DATETIME value in MySQL`,
    );
  if (us < DATETIME_MIN || us > DATETIME_MAX)
    throw new UnrepresentableValueError(
      column,
      `timestamptz ${formatTimestamptz(us)} is outside DATETIME's range (years 1000 to 9999) in MySQL`,
    );
  // formatTimestamptz prints 'YYYY-MM-DD HH:MM:SS.ffffff+00' for years 1000-9999
  return formatTimestamptz(us).slice(0, 26);
}
