// The event contract, read from the .avsc files (the single source of truth): column list and
// PostgreSQL types of a captured table, and the domain shape of a change event.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSqlType, pgTypeOf, type PgType } from './types.ts';

export { PG_SCALAR_TYPES, PG_TYPES, type PgScalarType, type PgType } from './types.ts';

const AVRO_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'avro');

export interface ColumnSpec {
  name: string;
  /** As written in the schema file, e.g. numeric(12,2); used for DDL. */
  sqlType: string;
  /** The kind (schemas/types.ts): decides value decoding, parameters and rendering. */
  pgType: PgType;
  nullable: boolean;
  /** set when the column's Avro type is a `decimal` (numeric with a known scale) */
  decimal?: { precision: number; scale: number };
  /** an enum column: the enum's labels, in order (the field's `pgEnum`), for the target's DDL */
  enumSymbols?: string[];
}

/**
 * One value in the event domain (= its Avro value): int/float/double as number, every Avro
 * `long` as bigint (timestamps in micros exceed 2^53), bytes as Buffer, the rest strings/booleans.
 */
export type ScalarValue = string | number | bigint | boolean | Buffer;
export type ColumnValue = ScalarValue | (ScalarValue | null)[] | null;
export type Row = Record<string, ColumnValue>;

/** c create, u update, d delete, r snapshot read, t truncate (the whole table; no key, no rows). */
export type Op = 'c' | 'u' | 'd' | 'r' | 't';

export interface EventSource {
  version: string;
  connector: string;
  name: string;
  db: string;
  schema: string;
  table: string;
  lsn: bigint;
  commit_lsn: bigint;
  seq: bigint;
  tx_id: bigint | null;
  ts_us: bigint;
  snapshot: boolean;
}

export interface ChangeEvent {
  before: Row | null;
  after: Row | null;
  unchanged: string[];
  source: EventSource;
  op: Op;
  ts_ms: bigint;
  event_id: string;
}

export interface TableContract {
  schema: string;
  table: string;
  keySchema: AvroRecordSchema;
  valueSchema: AvroRecordSchema;
  columns: ColumnSpec[];
  keyColumns: string[];
}

export interface AvroField {
  name: string;
  type: unknown;
  pgType?: string;
  /** labels of an enum column (its PostgreSQL type is an enum) */
  pgEnum?: string[];
  default?: unknown;
  doc?: string;
}
export interface AvroRecordSchema {
  type: 'record';
  name: string;
  namespace?: string;
  fields: AvroField[];
}

function isNullable(type: unknown): boolean {
  return Array.isArray(type) && type.includes('null');
}

/** The Avro decimal of a field's type (its non-null branch; of an array: the items'), if it is one. */
function decimalOf(type: unknown): { precision: number; scale: number } | undefined {
  const branch: unknown = Array.isArray(type) ? (type as unknown[]).find((t) => t !== 'null') : type;
  if (typeof branch !== 'object' || branch === null) return undefined;
  const b = branch as {
    type?: unknown;
    items?: unknown;
    logicalType?: unknown;
    precision?: number;
    scale?: number;
  };
  if (b.type === 'array') return decimalOf(b.items);
  return b.logicalType === 'decimal' ? { precision: b.precision ?? 0, scale: b.scale ?? 0 } : undefined;
}

export function columnsOf(record: AvroRecordSchema): ColumnSpec[] {
  return record.fields.map((f) => {
    if (!f.pgType) throw new Error(`schema: field ${record.name}.${f.name} has no pgType`);
    let pgType: PgType;
    try {
      pgType = pgTypeOf(parseSqlType(f.pgType, f.pgEnum !== undefined));
    } catch (err) {
      throw new Error(`schema: field ${record.name}.${f.name}: ${(err as Error).message}`);
    }
    const spec: ColumnSpec = { name: f.name, sqlType: f.pgType, pgType, nullable: isNullable(f.type) };
    const decimal = decimalOf(f.type);
    if (decimal) spec.decimal = decimal;
    if (f.pgEnum) spec.enumSymbols = f.pgEnum;
    return spec;
  });
}

/** The shipped contracts (the demo's `users` table): used when the configuration names no directory. */
export const DEFAULT_CONTRACT_DIR = AVRO_DIR;

function readSchema(dir: string, file: string): AvroRecordSchema {
  return JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as AvroRecordSchema;
}

/** The row record (`Value`) nested in the envelope's `before` union. */
export function rowRecordOf(envelope: AvroRecordSchema): AvroRecordSchema {
  const before = envelope.fields.find((f) => f.name === 'before');
  const rec = Array.isArray(before?.type)
    ? (before.type as unknown[]).find((t) => typeof t === 'object')
    : undefined;
  if (!rec) throw new Error(`schema: ${envelope.name} has no before record`);
  return rec as AvroRecordSchema;
}

const cache = new Map<string, TableContract>();

/**
 * The contract of one table: `<table>-key.avsc` and `<table>-value.avsc` in `dir` (the
 * configuration's `source.contracts`, absolute), else in the shipped contracts.
 */
export function loadContract(table = 'users', schema = 'public', dir = AVRO_DIR): TableContract {
  const id = `${dir}\0${schema}.${table}`;
  const hit = cache.get(id);
  if (hit) return hit;
  const keySchema = readSchema(dir, `${table}-key.avsc`);
  const valueSchema = readSchema(dir, `${table}-value.avsc`);
  const contract: TableContract = {
    schema,
    table,
    keySchema,
    valueSchema,
    columns: columnsOf(rowRecordOf(valueSchema)),
    keyColumns: keySchema.fields.map((f) => f.name),
  };
  cache.set(id, contract);
  return contract;
}
