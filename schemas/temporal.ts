// Date and time values between PostgreSQL's text form (DateStyle ISO, TimeZone UTC: the settings
// of every session pgcdc reads values with) and the event domain: date = days since 1970-01-01
// (Avro int, logicalType date), time = microseconds since midnight (time-micros), timestamp and
// timestamptz = microseconds since 1970 (local-timestamp-micros / timestamp-micros). Pure; the
// proleptic Gregorian calendar as PostgreSQL uses it, BC years included. 'infinity' and
// '-infinity' map to the extremes of the Avro type (sentinels, as Debezium).

/** Sentinels for 'infinity' / '-infinity' of timestamps (as Debezium): the extremes of Avro long. */
export const TS_POS_INFINITY = 9223372036854775807n;
export const TS_NEG_INFINITY = -9223372036854775808n;
/** Sentinels for 'infinity' / '-infinity' of dates: the extremes of Avro int (PostgreSQL dates end earlier). */
export const DATE_POS_INFINITY = 2147483647;
export const DATE_NEG_INFINITY = -2147483648;

// Days from 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil), bigint-safe.
export function daysFromCivil(y: bigint, m: bigint, d: bigint): bigint {
  const yy = m <= 2n ? y - 1n : y;
  const era = (yy >= 0n ? yy : yy - 399n) / 400n;
  const yoe = yy - era * 400n;
  const mp = (m + 9n) % 12n;
  const doy = (153n * mp + 2n) / 5n + d - 1n;
  const doe = yoe * 365n + yoe / 4n - yoe / 100n + doy;
  return era * 146097n + doe - 719468n;
}

/** daysFromCivil in doubles, exact for any year a timestamp's text can hold with four digits. */
function daysFromCivilNumber(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const mp = (m + 9) % 12;
  const doy = Math.floor((153 * mp + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** [year (astronomical: 0 is 1 BC), month, day] of a day count since 1970-01-01. */
export function civilFromDays(z0: bigint): [bigint, bigint, bigint] {
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

export const floorDiv = (a: bigint, b: bigint) => (a >= 0n ? a / b : -((-a + b - 1n) / b));
const pad = (n: bigint, w: number) => n.toString().padStart(w, '0');

const TS_RE =
  /^(\d{4,})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?(?:([+-])(\d\d)(?::?(\d\d))?(?::?(\d\d))?)?( BC)?$/;

function parseTs(text: string, what: string, withZone: boolean): bigint {
  if (text === 'infinity') return TS_POS_INFINITY;
  if (text === '-infinity') return TS_NEG_INFINITY;
  const m = TS_RE.exec(text);
  if (!m || (!withZone && m[8])) throw new Error(`unparseable ${what} "${text}"`);
  const [, ys, mo, d, h, mi, s, frac, sign, oh, om, os, bc] = m;
  // years 0001..9999 AD (nearly every value): seconds in exact double arithmetic, one bigint step
  if (ys!.length === 4 && !bc) {
    const days = daysFromCivilNumber(Number(ys), Number(mo), Number(d));
    const offsetSecs = sign
      ? (Number(oh) * 3600 + Number(om ?? '0') * 60 + Number(os ?? '0')) * (sign === '-' ? -1 : 1)
      : 0;
    const secs = days * 86400 + Number(h) * 3600 + Number(mi) * 60 + Number(s) - offsetSecs;
    return BigInt(secs) * 1_000_000n + BigInt(frac ? Number(frac.padEnd(6, '0')) : 0);
  }
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
      `${what} "${text}" is beyond the range of the event contract (64-bit microseconds since 1970)`,
    );
  }
  return us;
}

function formatTs(us: bigint, zone: string): string {
  if (us === TS_POS_INFINITY) return 'infinity';
  if (us === TS_NEG_INFINITY) return '-infinity';
  const totalSecs = floorDiv(us, 1_000_000n);
  const micros = us - totalSecs * 1_000_000n;
  const days = floorDiv(totalSecs, 86400n);
  const sod = totalSecs - days * 86400n;
  const [y, m, d] = civilFromDays(days);
  const bc = y <= 0n;
  const year = bc ? 1n - y : y;
  const time = `${pad(sod / 3600n, 2)}:${pad((sod % 3600n) / 60n, 2)}:${pad(sod % 60n, 2)}.${pad(micros, 6)}`;
  return `${pad(year, 4)}-${pad(m, 2)}-${pad(d, 2)} ${time}${zone}${bc ? ' BC' : ''}`;
}

/** timestamptz text (ISO DateStyle, any offset) -> microseconds since the epoch. */
export const parseTimestamptz = (text: string): bigint => parseTs(text, 'timestamptz', true);

/** microseconds since the epoch -> timestamptz literal in UTC that PostgreSQL reads back exactly. */
export const formatTimestamptz = (us: bigint): string => formatTs(us, '+00');

/** timestamp (without time zone) text -> microseconds since 1970-01-01 00:00 of the same wall clock. */
export const parseTimestamp = (text: string): bigint => parseTs(text, 'timestamp', false);

/** microseconds -> timestamp literal PostgreSQL reads back exactly (no zone). */
export const formatTimestamp = (us: bigint): string => formatTs(us, '');

const DATE_RE = /^(\d{4,})-(\d\d)-(\d\d)( BC)?$/;

/** date text -> days since 1970-01-01; infinities as the int sentinels. */
export function parseDate(text: string): number {
  if (text === 'infinity') return DATE_POS_INFINITY;
  if (text === '-infinity') return DATE_NEG_INFINITY;
  const m = DATE_RE.exec(text);
  if (!m) throw new Error(`unparseable date "${text}"`);
  const year = m[4] ? 1n - BigInt(m[1]!) : BigInt(m[1]!);
  return Number(daysFromCivil(year, BigInt(m[2]!), BigInt(m[3]!)));
}

export function formatDate(days: number): string {
  if (days === DATE_POS_INFINITY) return 'infinity';
  if (days === DATE_NEG_INFINITY) return '-infinity';
  const [y, m, d] = civilFromDays(BigInt(days));
  const bc = y <= 0n;
  return `${pad(bc ? 1n - y : y, 4)}-${pad(m, 2)}-${pad(d, 2)}${bc ? ' BC' : ''}`;
}

const TIME_RE = /^(\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?$/;

/** time text -> microseconds since midnight (24:00:00 is PostgreSQL's last value: 86400000000). */
export function parseTime(text: string): bigint {
  const m = TIME_RE.exec(text);
  if (!m) throw new Error(`unparseable time "${text}"`);
  const [, h, mi, s, frac] = m;
  const secs = BigInt(h!) * 3600n + BigInt(mi!) * 60n + BigInt(s!);
  return secs * 1_000_000n + (frac ? BigInt(frac.padEnd(6, '0')) : 0n);
}

export function formatTime(us: bigint): string {
  const secs = us / 1_000_000n;
  return `${pad(secs / 3600n, 2)}:${pad((secs % 3600n) / 60n, 2)}:${pad(secs % 60n, 2)}.${pad(us % 1_000_000n, 6)}`;
}
