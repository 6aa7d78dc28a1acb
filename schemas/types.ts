// The PostgreSQL column types the event contract carries, in ONE table: for each scalar kind the
// names PostgreSQL and people spell it with, and the Avro type a generated contract gives it. Every
// kind also comes as a one-dimensional array (`<kind>[]`). Value conversion (text <-> domain value
// <-> SQL parameter) is in values.ts, temporal forms in temporal.ts, the Avro decimal in avro.ts;
// targets of other databases map these kinds (e.g. MariaDB) from this table.
//
// Guarantee: a type that is not listed here is refused by name (contract loading and generation),
// never carried half-right.

/** Scalar kinds. `enum` is any PostgreSQL enum type (carried as its label, a string). */
export const PG_SCALAR_TYPES = [
  'smallint',
  'integer',
  'bigint',
  'numeric',
  'real',
  'double precision',
  'text',
  'varchar',
  'char',
  'citext',
  'boolean',
  'date',
  'time',
  'timestamp',
  'timestamptz',
  'interval',
  'uuid',
  'json',
  'jsonb',
  'bytea',
  'inet',
  'cidr',
  'enum',
] as const;

export type PgScalarType = (typeof PG_SCALAR_TYPES)[number];
/** A column's kind: a scalar kind or a one-dimensional array of one (`integer[]`). */
export type PgType = PgScalarType | `${PgScalarType}[]`;

/** How a value of the kind is represented in the event domain (and so in Avro). */
export type DomainRepr = 'int' | 'long' | 'float' | 'double' | 'string' | 'boolean' | 'bytes';

export interface PgTypeDescriptor {
  kind: PgScalarType;
  /** Spellings (lower case, without a type modifier) that denote the kind, format_type's first. */
  names: readonly string[];
  /** The domain representation (JS: int/float/double number, long bigint, bytes Buffer). */
  repr: DomainRepr;
  /** The Avro type a generated contract uses; `typmod` is the "(...)" part of the SQL type. */
  avro: (typmod: number[]) => unknown;
}

const str = () => 'string';
const json = () => ({ type: 'string', 'connect.name': 'io.debezium.data.Json' });

/** The descriptor table. Order: as PG_SCALAR_TYPES. */
export const PG_TYPES: Record<PgScalarType, PgTypeDescriptor> = {
  smallint: { kind: 'smallint', names: ['smallint', 'int2'], repr: 'int', avro: () => 'int' },
  integer: { kind: 'integer', names: ['integer', 'int', 'int4'], repr: 'int', avro: () => 'int' },
  bigint: { kind: 'bigint', names: ['bigint', 'int8'], repr: 'long', avro: () => 'long' },
  numeric: {
    kind: 'numeric',
    names: ['numeric', 'decimal'],
    repr: 'string',
    // with a known scale an Avro decimal (it cannot hold NaN: docs/contracts.md); else exact text
    avro: ([precision, scale]) =>
      precision === undefined
        ? 'string'
        : { type: 'bytes', logicalType: 'decimal', precision, scale: scale ?? 0 },
  },
  real: { kind: 'real', names: ['real', 'float4'], repr: 'float', avro: () => 'float' },
  'double precision': {
    kind: 'double precision',
    names: ['double precision', 'float8', 'float'],
    repr: 'double',
    avro: () => 'double',
  },
  text: { kind: 'text', names: ['text'], repr: 'string', avro: str },
  varchar: { kind: 'varchar', names: ['character varying', 'varchar'], repr: 'string', avro: str },
  char: { kind: 'char', names: ['character', 'char', 'bpchar'], repr: 'string', avro: str },
  citext: { kind: 'citext', names: ['citext'], repr: 'string', avro: str },
  boolean: { kind: 'boolean', names: ['boolean', 'bool'], repr: 'boolean', avro: () => 'boolean' },
  date: { kind: 'date', names: ['date'], repr: 'int', avro: () => ({ type: 'int', logicalType: 'date' }) },
  time: {
    kind: 'time',
    names: ['time without time zone', 'time'],
    repr: 'long',
    avro: () => ({ type: 'long', logicalType: 'time-micros' }),
  },
  timestamp: {
    kind: 'timestamp',
    names: ['timestamp without time zone', 'timestamp'],
    repr: 'long',
    avro: () => ({ type: 'long', logicalType: 'local-timestamp-micros' }),
  },
  timestamptz: {
    kind: 'timestamptz',
    names: ['timestamp with time zone', 'timestamptz'],
    repr: 'long',
    avro: () => ({ type: 'long', logicalType: 'timestamp-micros' }),
  },
  interval: { kind: 'interval', names: ['interval'], repr: 'string', avro: str },
  uuid: {
    kind: 'uuid',
    names: ['uuid'],
    repr: 'string',
    avro: () => ({ type: 'string', logicalType: 'uuid' }),
  },
  json: { kind: 'json', names: ['json'], repr: 'string', avro: json },
  jsonb: { kind: 'jsonb', names: ['jsonb'], repr: 'string', avro: json },
  bytea: { kind: 'bytea', names: ['bytea'], repr: 'bytes', avro: () => 'bytes' },
  inet: { kind: 'inet', names: ['inet'], repr: 'string', avro: str },
  cidr: { kind: 'cidr', names: ['cidr'], repr: 'string', avro: str },
  enum: { kind: 'enum', names: [], repr: 'string', avro: str },
};

const BY_NAME = new Map<string, PgScalarType>(
  PG_SCALAR_TYPES.flatMap((k) => PG_TYPES[k].names.map((n) => [n, k] as const)),
);

export interface ParsedSqlType {
  kind: PgScalarType;
  array: boolean;
  /** the numbers of the type modifier, e.g. [12, 2] of numeric(12,2); [] without one */
  typmod: number[];
}

/** Thrown for a column type the contract cannot carry; names the type. */
export class UnsupportedTypeError extends Error {}

/**
 * The kind of an SQL type as written in a contract (`pgType`) or printed by format_type:
 * `numeric(12,2)`, `character varying(100)[]`, `timestamp(3) with time zone`, `int4`. `isEnum`:
 * the contract marks the column as an enum (its `pgEnum` symbols), whatever the type's name.
 */
export function parseSqlType(sqlType: string, isEnum = false): ParsedSqlType {
  let s = sqlType.trim().toLowerCase().replace(/\s+/g, ' ');
  let array = false;
  if (s.endsWith('[]')) {
    array = true;
    s = s.slice(0, -2).trim();
  }
  if (s.endsWith('[]'))
    throw new UnsupportedTypeError(`type "${sqlType}": multi-dimensional arrays are not supported`);
  const mod = /\(([^)]*)\)/.exec(s);
  const typmod = mod ? mod[1]!.split(',').map((n) => Number(n.trim())) : [];
  const base = s
    .replace(/\([^)]*\)/, '')
    .replace(/\s+/g, ' ')
    .trim();
  if (isEnum) return { kind: 'enum', array, typmod: [] };
  const kind = BY_NAME.get(base);
  if (!kind)
    throw new UnsupportedTypeError(`unsupported column type "${sqlType}" (supported: docs/contracts.md)`);
  return { kind, array, typmod };
}

export function pgTypeOf(parsed: Pick<ParsedSqlType, 'kind' | 'array'>): PgType {
  return parsed.array ? `${parsed.kind}[]` : parsed.kind;
}

/** The scalar kind of a column kind, and whether it is an array of it. */
export function splitPgType(t: PgType): { kind: PgScalarType; array: boolean } {
  return t.endsWith('[]')
    ? { kind: t.slice(0, -2) as PgScalarType, array: true }
    : { kind: t as PgScalarType, array: false };
}
