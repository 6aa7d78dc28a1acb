// Lossless conversion of column values between PostgreSQL text form, the event domain and SQL
// parameters. Pure functions: pgoutput text -> ColumnValue (producer), ColumnValue -> parameter (sinks).
import { parse as parseArray } from 'postgres-array';
import type { ColumnValue, PgType } from './contract.ts';

/** Sentinels for 'infinity' / '-infinity' (as Debezium): the extremes of Avro long. */
export const TS_POS_INFINITY = 9223372036854775807n;
export const TS_NEG_INFINITY = -9223372036854775808n;

// Days from 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil), bigint-safe.
function daysFromCivil(y: bigint, m: bigint, d: bigint): bigint {
  const yy = m <= 2n ? y - 1n : y;
  const era = (yy >= 0n ? yy : yy - 399n) / 400n;
  const yoe = yy - era * 400n;
  const mp = (m + 9n) % 12n;
  const doy = (153n * mp + 2n) / 5n + d - 1n;
  const doe = yoe * 365n + yoe / 4n - yoe / 100n + doy;
  return era * 146097n + doe - 719468n;
}

function civilFromDays(z0: bigint): [bigint, bigint, bigint] {
  const z = z0 + 719468n;
  const era = (z >= 0n ? z : z - 146096n) / 146097n;
  const doe = z - era * 146097n;
  const yoe = (doe - doe / 1460n + doe / 36524n - doe / 146096n) / 365n;
  const y = yoe + era * 400n;
  const doy = doe - (365n * yoe + yoe / 4n - yoe / 100n);
  const mp = (5n * doy + 2n) / 153n;
  const d = doy - (153n * mp + 2n) / 5n + 1n;
  const m = mp < 10n ? mp + 3n : mp - 9n;
  return [m <= 2n ? y + 1n : y, m, d];
}

const TS_RE =
  /^(\d{4,})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?(?:([+-])(\d\d)(?::?(\d\d))?(?::?(\d\d))?)?( BC)?$/;

/** timestamptz text (ISO DateStyle, any offset) -> microseconds since the epoch. */
export function parseTimestamptz(text: string): bigint {
  if (text === 'infinity') return TS_POS_INFINITY;
  if (text === '-infinity') return TS_NEG_INFINITY;
  const m = TS_RE.exec(text);
  if (!m) throw new Error(`unparseable timestamptz "${text}"`);
  const [, ys, mo, d, h, mi, s, frac, sign, oh, om, os, bc] = m;
  let year = BigInt(ys!);
  if (bc) year = 1n - year;
  const days = daysFromCivil(year, BigInt(mo!), BigInt(d!));
  const secs = days * 86400n + BigInt(h!) * 3600n + BigInt(mi!) * 60n + BigInt(s!);
  const micros = frac ? BigInt(frac.padEnd(6, '0')) : 0n;
  const offset = sign
    ? (BigInt(oh!) * 3600n + BigInt(om ?? '0') * 60n + BigInt(os ?? '0')) * (sign === '-' ? -1n : 1n)
    : 0n;
  const us = (secs - offset) * 1_000_000n + micros;
  // PostgreSQL goes up to year 294276, a signed 64-bit count of micros since 1970 only to 294247,
  // and its last value is the 'infinity' sentinel: fail loudly rather than corrupt or overflow.
  if (us >= TS_POS_INFINITY || us <= TS_NEG_INFINITY) {
    throw new Error(
      `timestamptz "${text}" is beyond the range of the event contract (64-bit microseconds since 1970)`,
    );
  }
  return us;
}

const pad = (n: bigint, w: number) => n.toString().padStart(w, '0');

/** microseconds since the epoch -> timestamptz literal in UTC that PostgreSQL reads back exactly. */
export function formatTimestamptz(us: bigint): string {
  if (us === TS_POS_INFINITY) return 'infinity';
  if (us === TS_NEG_INFINITY) return '-infinity';
  const floorDiv = (a: bigint, b: bigint) => (a >= 0n ? a / b : -((-a + b - 1n) / b));
  const totalSecs = floorDiv(us, 1_000_000n);
  const micros = us - totalSecs * 1_000_000n;
  const days = floorDiv(totalSecs, 86400n);
  const sod = totalSecs - days * 86400n;
  const [y, m, d] = civilFromDays(days);
  const bc = y <= 0n;
  const year = bc ? 1n - y : y;
  const time = `${pad(sod / 3600n, 2)}:${pad((sod % 3600n) / 60n, 2)}:${pad(sod % 60n, 2)}.${pad(micros, 6)}`;
  return `${pad(year, 4)}-${pad(m, 2)}-${pad(d, 2)} ${time}+00${bc ? ' BC' : ''}`;
}

/** pgoutput text value -> domain value, by the column's PostgreSQL type. */
export function decodePgText(pgType: PgType, text: string): ColumnValue {
  switch (pgType) {
    case 'bigint':
      return BigInt(text);
    case 'text':
    case 'jsonb':
    case 'numeric':
      return text;
    case 'boolean':
      if (text === 't') return true;
      if (text === 'f') return false;
      throw new Error(`unparseable boolean "${text}"`);
    case 'text[]':
      return flatTextArray(parseArray(text, (v) => v));
    case 'timestamptz':
      return parseTimestamptz(text);
    default:
      return pgType satisfies never;
  }
}

function flatTextArray(parsed: unknown[]): (string | null)[] {
  return parsed.map((v) => {
    if (v === null || typeof v === 'string') return v;
    throw new Error('multi-dimensional arrays are not supported for text[] columns');
  });
}

/**
 * The value a NOT NULL column carries in an event's `after` when the event lists it in `unchanged`
 * (PostgreSQL did not send its unchanged TOASTed value): the Avro type has no null, so the field holds
 * this type-appropriate placeholder. It is never a value: sinks do not write `unchanged` columns and
 * webhook payloads show them as null. Nullable unchanged columns carry null.
 */
export function unchangedPlaceholder(pgType: PgType): ColumnValue {
  switch (pgType) {
    case 'bigint':
    case 'timestamptz':
      return 0n;
    case 'text':
    case 'numeric':
      return '';
    case 'jsonb':
      return 'null';
    case 'boolean':
      return false;
    case 'text[]':
      return [];
    default:
      return pgType satisfies never;
  }
}

/** Domain value -> parameter for node-postgres (text forms PostgreSQL parses exactly). */
export function toSqlParam(pgType: PgType, value: ColumnValue): unknown {
  if (value === null) return null;
  switch (pgType) {
    case 'bigint':
      return String(value);
    case 'timestamptz':
      return formatTimestamptz(value as bigint);
    case 'text':
    case 'jsonb':
    case 'numeric':
    case 'boolean':
    case 'text[]':
      return value;
    default:
      return pgType satisfies never;
  }
}
