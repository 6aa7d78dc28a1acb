// Additive schema evolution of a table's contract (docs/contracts.md, "Schema changes"): the one
// change a running pipeline takes on by itself in `source.schemaChanges: automatic` mode is a new
// NULLABLE column. Pure. The producer appends such columns to the contract it publishes with
// (`withColumns`: each a `["null", T]` field with default null, so the new schema reads every
// event written with the older one: BACKWARD compatible); a consumer compares the writer schema of
// an event with its own contract (`additionsOf`) and learns the columns to add at its target.
// Anything else (a column gone that the contract needs, a changed type or nullability) is not an
// additive evolution: the caller stops with the reason, as the pinned mode does.
import { avroType } from './avro.ts';
import {
  columnsOf,
  rowRecordOf,
  type AvroField,
  type AvroRecordSchema,
  type ColumnSpec,
  type TableContract,
} from './contract.ts';
import { PG_TYPES, parseSqlType, type ParsedSqlType } from './types.ts';

/** Avro field names (and the parts of a namespace): what a column must be called to be carried. */
export const AVRO_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A column as the catalog describes it (format_type's spelling of its type). */
export interface NewColumn {
  name: string;
  /** format_type(atttypid, atttypmod): e.g. "character varying(100)", "integer[]", "mood" */
  type: string;
  /** the labels when the column's type (or its array element type) is an enum */
  enumLabels?: string[];
}

/** The Avro type of one column's values (without null). */
export function avroTypeOf(parsed: ParsedSqlType): unknown {
  const item = PG_TYPES[parsed.kind].avro(parsed.typmod);
  return parsed.array ? { type: 'array', items: ['null', item] } : item;
}

/**
 * The nullable field of a new column (`["null", T]`, default null, `pgType`, `pgEnum`); throws an
 * Error naming the reason when the column cannot be carried (its name, its type).
 */
export function nullableFieldOf(col: NewColumn): AvroField {
  if (!AVRO_NAME.test(col.name))
    throw new Error(`column ${col.name} cannot be an Avro field name (letters, digits and _ only)`);
  const type = avroTypeOf(parseSqlType(col.type, col.enumLabels !== undefined));
  const f: AvroField = { name: col.name, type: ['null', type], default: null, pgType: col.type };
  if (col.enumLabels) f.pgEnum = col.enumLabels;
  return f;
}

/** Deep copy of a JSON value. */
const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

/** The contract whose value schema is `valueSchema` (same table, same key). */
export function contractWithValueSchema(base: TableContract, valueSchema: AvroRecordSchema): TableContract {
  return { ...base, valueSchema, columns: columnsOf(rowRecordOf(valueSchema)) };
}

/** `base` with the nullable `fields` appended to its row record (in `before` and `after` alike). */
export function withColumns(base: TableContract, fields: AvroField[]): TableContract {
  const valueSchema = clone(base.valueSchema);
  // `after` names the row record defined in `before`: appending to that one definition is enough
  rowRecordOf(valueSchema).fields.push(...clone(fields));
  return contractWithValueSchema(base, valueSchema);
}

/** How a type is compared across versions: kind and array-ness (a wider varchar is the same column). */
const typeKey = (c: Pick<ColumnSpec, 'pgType'>) => c.pgType;

/**
 * What `writer` (an event's schema) adds to `reader` (the contract known so far): its nullable
 * columns the reader lacks. `incompatible` says why it is no additive evolution of the reader
 * (a reader column missing, or with another type or nullability).
 */
export function additionsOf(
  reader: TableContract,
  writer: TableContract,
): { added: ColumnSpec[]; incompatible?: string } {
  const byName = new Map(writer.columns.map((c) => [c.name, c]));
  for (const r of reader.columns) {
    const w = byName.get(r.name);
    if (!w) return { added: [], incompatible: `column ${r.name} is missing` };
    if (typeKey(w) !== typeKey(r) || w.nullable !== r.nullable)
      return {
        added: [],
        incompatible: `column ${r.name} is ${w.sqlType}${w.nullable ? '' : ' NOT NULL'}, the contract's ${r.sqlType}${r.nullable ? '' : ' NOT NULL'}`,
      };
  }
  const known = new Set(reader.columns.map((c) => c.name));
  const added = writer.columns.filter((c) => !known.has(c.name));
  const required = added.find((c) => !c.nullable);
  return required ? { added: [], incompatible: `new column ${required.name} is NOT NULL` } : { added };
}

/** The SHA-256 Parsing Canonical Form fingerprint of a schema, hex (as the fingerprint test pins). */
export function fingerprintOf(schema: AvroRecordSchema): string {
  return avroType(schema).fingerprint('sha256').toString('hex');
}

const PLAIN_TYPE = /^[A-Za-z0-9_ ,()[\]]+$/;
const IDENT = String.raw`(?:"[^"]+"|[A-Za-z_][A-Za-z0-9_$]*)`;
const ENUM_TYPE = new RegExp(String.raw`^(?:${IDENT}\.)?${IDENT}(?:\[\])?$`);

/**
 * A column that may be added at a target by DDL: its name an Avro name, its type spelling one of
 * the type table's (an enum: a possibly qualified, possibly quoted type name). The spelling comes
 * from the registry (an event's writer schema) and is written into DDL: anything else is refused.
 */
export function assertAddable(c: ColumnSpec): void {
  const ok =
    AVRO_NAME.test(c.name) && (c.enumSymbols ? ENUM_TYPE.test(c.sqlType) : PLAIN_TYPE.test(c.sqlType));
  if (!ok)
    throw new Error(
      `column ${JSON.stringify(c.name)} of type ${JSON.stringify(c.sqlType)} cannot be added by DDL (not a column name and type the contract allows)`,
    );
}
