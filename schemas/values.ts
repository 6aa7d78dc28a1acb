// Lossless conversion of column values between PostgreSQL text form, the event domain and SQL
// parameters. Pure functions: pgoutput text -> ColumnValue (producer), ColumnValue -> parameter
// (sinks). The text form is the one of the sessions pgcdc reads with (DateStyle ISO, TimeZone UTC,
// extra_float_digits 3, IntervalStyle iso_8601, bytea_output hex); every parameter is a text form
// PostgreSQL reads back to the same value, so source -> event -> target is exact (docs/contracts.md).
import { parse as parseArray } from 'postgres-array';
import type { ColumnSpec, ColumnValue, ScalarValue } from './contract.ts';
import {
  formatDate,
  formatTime,
  formatTimestamp,
  formatTimestamptz,
  parseDate,
  parseTime,
  parseTimestamp,
  parseTimestamptz,
} from './temporal.ts';
import { PG_TYPES, splitPgType, type PgScalarType, type PgType } from './types.ts';

export {
  TS_NEG_INFINITY,
  TS_POS_INFINITY,
  DATE_NEG_INFINITY,
  DATE_POS_INFINITY,
  formatTimestamptz,
  parseTimestamptz,
} from './temporal.ts';

const INT_RANGE: Partial<Record<PgScalarType, [number, number]>> = {
  smallint: [-32768, 32767],
  integer: [-2147483648, 2147483647],
};

/** PostgreSQL's float text (extra_float_digits 3: shortest exact) -> number; NaN and infinities too. */
function parseFloatText(text: string): number {
  switch (text) {
    case 'NaN':
      return NaN;
    case 'Infinity':
      return Infinity;
    case '-Infinity':
      return -Infinity;
    default: {
      const n = Number(text);
      if (text.trim() === '' || Number.isNaN(n)) throw new Error(`unparseable float "${text}"`);
      return n;
    }
  }
}

/** A float as text PostgreSQL reads back to the same value (-0 keeps its sign). */
function floatText(n: number): string {
  if (Object.is(n, -0)) return '-0';
  return String(n); // NaN, Infinity, -Infinity, shortest round-trip digits otherwise
}

/** bytea text: hex format (\x0a0b), or the old escape format (a\000b\\). */
function parseBytea(text: string): Buffer {
  if (text.startsWith('\\x')) {
    const hex = text.slice(2);
    if (!/^[0-9a-fA-F]*$/.test(hex) || hex.length % 2) throw new Error('unparseable bytea (hex format)');
    return Buffer.from(hex, 'hex');
  }
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 0x5c) out.push(c);
    else if (text[i + 1] === '\\') {
      out.push(0x5c);
      i += 1;
    } else {
      out.push(parseInt(text.slice(i + 1, i + 4), 8));
      i += 3;
    }
  }
  return Buffer.from(out);
}

function decodeScalar(kind: PgScalarType, text: string): ScalarValue {
  switch (kind) {
    case 'smallint':
    case 'integer': {
      const n = Number(text);
      const [lo, hi] = INT_RANGE[kind]!;
      if (!/^-?\d+$/.test(text) || n < lo || n > hi) throw new Error(`unparseable ${kind} "${text}"`);
      return n;
    }
    case 'bigint':
      return BigInt(text);
    case 'real':
    case 'double precision':
      return parseFloatText(text);
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
      return text;
    case 'boolean':
      if (text === 't') return true;
      if (text === 'f') return false;
      throw new Error(`unparseable boolean "${text}"`);
    case 'date':
      return parseDate(text);
    case 'time':
      return parseTime(text);
    case 'timestamp':
      return parseTimestamp(text);
    case 'timestamptz':
      return parseTimestamptz(text);
    case 'bytea':
      return parseBytea(text);
    default:
      return kind satisfies never;
  }
}

/** pgoutput text value -> domain value, by the column's PostgreSQL type. */
export function decodePgText(pgType: PgType, text: string): ColumnValue {
  const { kind, array } = splitPgType(pgType);
  if (!array) return decodeScalar(kind, text);
  return parseArray(text, (v) => v).map((v) => {
    if (v === null) return null;
    if (typeof v !== 'string')
      throw new Error(`multi-dimensional arrays are not supported for ${pgType} columns`);
    return decodeScalar(kind, v);
  });
}

/**
 * decodePgText, and a value the column's Avro type cannot hold refused here, naming the column's
 * type (the producer stops on it, UncarriableChangeError): NaN/Infinity or more fractional digits
 * than the scale in an Avro `decimal` column.
 */
export function decodeColumn(spec: Pick<ColumnSpec, 'pgType' | 'decimal'>, text: string): ColumnValue {
  const value = decodePgText(spec.pgType, text);
  if (spec.decimal && value !== null) {
    const { scale } = spec.decimal;
    for (const v of Array.isArray(value) ? value : [value]) {
      if (typeof v === 'string' && !new RegExp(`^-?\\d+(\\.\\d{0,${scale}})?$`).test(v))
        throw new Error(
          `numeric "${v.length > 40 ? `${v.slice(0, 40)}...` : v}" has no Avro decimal(scale ${scale}) form; declare the column as "string" in the contract to carry NaN, infinities or another scale (docs/contracts.md)`,
        );
    }
  }
  return value;
}

function scalarPlaceholder(kind: PgScalarType): ScalarValue {
  switch (kind) {
    case 'smallint':
    case 'integer':
    case 'real':
    case 'double precision':
    case 'date':
      return 0;
    case 'bigint':
    case 'time':
    case 'timestamp':
    case 'timestamptz':
      return 0n;
    case 'numeric':
      return '0';
    case 'text':
    case 'varchar':
    case 'char':
    case 'citext':
    case 'interval':
    case 'inet':
    case 'cidr':
    case 'enum':
      return '';
    case 'uuid':
      return '00000000-0000-0000-0000-000000000000';
    case 'json':
    case 'jsonb':
      return 'null';
    case 'boolean':
      return false;
    case 'bytea':
      return Buffer.alloc(0);
    default:
      return kind satisfies never;
  }
}

/**
 * The value a NOT NULL column carries in an event's `after` when the event lists it in `unchanged`
 * (PostgreSQL did not send its unchanged TOASTed value): the Avro type has no null, so the field holds
 * this type-appropriate placeholder. It is never a value: sinks do not write `unchanged` columns and
 * webhook payloads show them as null. Nullable unchanged columns carry null.
 */
export function unchangedPlaceholder(pgType: PgType): ColumnValue {
  const { kind, array } = splitPgType(pgType);
  return array ? [] : scalarPlaceholder(kind);
}

/** A scalar domain value as PostgreSQL input text (what the text form of that value reads back as). */
export function scalarText(kind: PgScalarType, value: ScalarValue): string {
  switch (kind) {
    case 'smallint':
    case 'integer':
    case 'bigint':
      return String(value);
    case 'real':
    case 'double precision':
      return floatText(value as number);
    case 'boolean':
      return value ? 't' : 'f';
    case 'date':
      return formatDate(value as number);
    case 'time':
      return formatTime(value as bigint);
    case 'timestamp':
      return formatTimestamp(value as bigint);
    case 'timestamptz':
      return formatTimestamptz(value as bigint);
    case 'bytea':
      return `\\x${(value as Buffer).toString('hex')}`;
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
      return value as string;
    default:
      return kind satisfies never;
  }
}

/**
 * Domain value -> parameter for node-postgres: text forms PostgreSQL parses exactly (a boolean
 * stays a boolean); an array is an array of element texts (null for NULL elements).
 */
export function toSqlParam(pgType: PgType, value: ColumnValue): unknown {
  if (value === null) return null;
  const { kind, array } = splitPgType(pgType);
  if (!array) return kind === 'boolean' ? value : scalarText(kind, value as ScalarValue);
  const items = value as (ScalarValue | null)[];
  if (PG_TYPES[kind].repr === 'string') return items; // already their texts
  return items.map((v) => (v === null ? null : scalarText(kind, v)));
}
