// Contract generation from a table's shape as the catalog describes it (catalog.ts reads it): the
// key and value .avsc of `pgcdc contract generate`. Pure. The envelope (before/after/unchanged/
// source/op/ts_ms/event_id) is the shipped users contract's, verbatim, so every contract has the
// same event shape; only the names, the key and the row record differ. Column types map through
// the one type table (schemas/types.ts); a type outside it, a column name Avro cannot carry or a
// table without a usable key is refused with the reason and the fix.
import type { AvroField, AvroRecordSchema } from '../../schemas/contract.ts';
import { AVRO_NAME, avroTypeOf } from '../../schemas/evolution.ts';
import { parseSqlType, type ParsedSqlType } from '../../schemas/types.ts';
import { PgcdcError } from '../../pipeline/errors.ts';

/** One column as pg_catalog describes it. */
export interface CatalogColumn {
  name: string;
  /** format_type(atttypid, atttypmod): e.g. "character varying(100)", "integer[]", "mood" */
  type: string;
  notNull: boolean;
  /** the labels when the column's type (or its array element type) is an enum */
  enumLabels?: string[];
  /** a generated column: PostgreSQL does not replicate it, so it is left out */
  generated?: boolean;
}

export interface TableShape {
  schema: string;
  table: string;
  columns: CatalogColumn[];
  /** primary key columns in key order; empty without one */
  primaryKey: string[];
  /** pg_class.relreplident: d default, f full, i index, n nothing */
  replicaIdentity: string;
  /** columns of the replica identity index (REPLICA IDENTITY USING INDEX), in order */
  identityIndex: string[];
}

export interface GeneratedContract {
  keySchema: AvroRecordSchema;
  valueSchema: AvroRecordSchema;
  /** what was left out or decided, for the operator (generated columns, the key's origin) */
  notes: string[];
}

/** The table cannot be given a contract as it is; the message names why, the hint the fix. */
export class ContractGenerationError extends PgcdcError {
  constructor(message: string, hint: string) {
    super(message, { retriable: false, hint });
  }
}

export { avroTypeOf } from '../../schemas/evolution.ts';

/** The key: the primary key, else the columns of a REPLICA IDENTITY USING INDEX; never the whole row. */
export function keyColumnsOf(shape: TableShape): { columns: string[]; origin: string } {
  const name = `${shape.schema}.${shape.table}`;
  if (shape.primaryKey.length > 0) return { columns: shape.primaryKey, origin: 'the primary key' };
  if (shape.replicaIdentity === 'i' && shape.identityIndex.length > 0)
    return { columns: shape.identityIndex, origin: 'the replica identity index' };
  throw new ContractGenerationError(
    `table ${name} has no primary key${shape.replicaIdentity === 'f' ? ' (REPLICA IDENTITY FULL is not a key: events are keyed and targets upsert by a key)' : ''}: its changes cannot be keyed`,
    `add one (ALTER TABLE ${name} ADD PRIMARY KEY (...)), or a unique index on NOT NULL columns and ALTER TABLE ${name} REPLICA IDENTITY USING INDEX <index>`,
  );
}

function field(col: CatalogColumn, table: string, forKey: boolean): AvroField {
  if (!AVRO_NAME.test(col.name))
    throw new ContractGenerationError(
      `column ${table}.${col.name} cannot be an Avro field name (letters, digits and _ only, not starting with a digit)`,
      `rename the column, or leave it out of the publication's column list (not supported yet: rename it)`,
    );
  let parsed: ParsedSqlType;
  try {
    parsed = parseSqlType(col.type, col.enumLabels !== undefined);
  } catch (err) {
    throw new ContractGenerationError(
      `column ${table}.${col.name}: ${(err as Error).message}`,
      'change the column to a supported type (docs/contracts.md, the type table), e.g. ALTER TABLE ... ALTER COLUMN ... TYPE text',
    );
  }
  const type = avroTypeOf(parsed);
  const f: AvroField =
    col.notNull || forKey
      ? { name: col.name, type }
      : { name: col.name, type: ['null', type], default: null };
  f.pgType = col.type;
  if (col.enumLabels) f.pgEnum = col.enumLabels;
  return f;
}

/** Deep copy of a JSON value. */
const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

/**
 * The key and value schemas of `shape`, in the envelope of `template` (the shipped users
 * value schema: DEFAULT_CONTRACT_DIR/users-value.avsc).
 */
export function generateContract(shape: TableShape, template: AvroRecordSchema): GeneratedContract {
  const name = `${shape.schema}.${shape.table}`;
  const notes: string[] = [];
  const namespace = `pgcdc.${shape.schema}.${shape.table}`;
  if (!namespace.split('.').every((part) => AVRO_NAME.test(part)))
    throw new ContractGenerationError(
      `table ${name} cannot name an Avro namespace (letters, digits and _ only per part)`,
      'rename the schema or table',
    );
  const captured = shape.columns.filter((c) => {
    if (c.generated) notes.push(`${c.name}: a generated column, not replicated by PostgreSQL: left out`);
    return !c.generated;
  });
  const key = keyColumnsOf(shape);
  notes.push(`key: ${key.columns.join(', ')} (${key.origin})`);
  const byName = new Map(captured.map((c) => [c.name, c]));
  const keyFields = key.columns.map((k) => {
    const col = byName.get(k);
    if (!col)
      throw new ContractGenerationError(
        `key column ${name}.${k} is not captured`,
        'use a key of plain columns',
      );
    return field(col, name, true);
  });
  const rowFields = captured.map((c) => field(c, name, key.columns.includes(c.name)));

  const valueSchema = clone(template);
  valueSchema.namespace = namespace;
  (valueSchema as { doc?: string }).doc =
    `A change of one row of ${name} (Debezium-style envelope), generated from the catalog by pgcdc contract generate. \`pgType\` on each column names the PostgreSQL type the value comes from and is written back to.`;
  const before = valueSchema.fields.find((f) => f.name === 'before');
  const row = Array.isArray(before?.type)
    ? ((before.type as unknown[]).find((t) => typeof t === 'object') as AvroRecordSchema | undefined)
    : undefined;
  if (!row) throw new Error('contract template: no before record');
  row.fields = rowFields;
  const keySchema: AvroRecordSchema & { doc: string } = {
    type: 'record',
    name: 'Key',
    namespace,
    doc: `Kafka message key of a ${name} change event: ${key.origin}. The key decides the partition, so every event of one row stays in order.`,
    fields: keyFields,
  };
  return { keySchema, valueSchema, notes };
}
