// Automatic schema changes at the producer (`source.schemaChanges: automatic`, docs/contracts.md
// "Schema changes"). pgoutput sends a table's Relation message before the first change that uses
// a new shape of the table, inside the stream, so a column added by ALTER TABLE ... ADD COLUMN is
// seen exactly where it starts. Before the assembler reads that Relation, the session hands it here:
//   - a new NULLABLE column the contract lacks is appended to the contract (schemas/evolution.ts),
//     the new value schema is registered (BACKWARD compatible: the registry checks it), its id and
//     fingerprint logged, and the evolved contract is written next to the pinned one for review
//     (`<contracts>/<table>-value.evolved.avsc`; pgcdc never reads it back: at every session the
//     same Relation evolves the pinned contract again to the same schema);
//   - a new column that cannot be added so (NOT NULL, a type or name a contract cannot carry) is
//     left out, as in pinned mode (the assembler's drift warning names it);
//   - a column of the contract whose type changed stops the stream (SchemaMismatchError) before
//     any event of the new shape is published; a NOT NULL column gone stops in the assembler.
// The catalog is asked once per Relation message (rare: one per table per session, one per DDL),
// and once per table at a session's start and before each snapshot run (evolveFromCatalog; the
// session's tables, producers/captured-tables.ts, serialize the two and keep the wider contract).
import { rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type pg from 'pg';
import type { Pgoutput } from 'pg-logical-replication';
import type { Logger } from '../../pipeline/observability/logger.ts';
import type { EventCodec } from '../../schemas/codec.ts';
import type { AvroField, TableContract } from '../../schemas/contract.ts';
import { fingerprintOf, nullableFieldOf, withColumns } from '../../schemas/evolution.ts';
import { parseSqlType, pgTypeOf } from '../../schemas/types.ts';
import { SchemaMismatchError } from './assembler.ts';

export interface SchemaChangeDeps {
  /** the session's source client (read-only catalog queries) */
  client: pg.ClientBase;
  /** registers the contract's schemas for the topic; the codec publishes with them */
  register: (topic: string, contract: TableContract) => Promise<EventCodec>;
  /** the configuration's contract directory (absolute); undefined: the shipped one, never written */
  contractsDir: string | undefined;
  logger: Logger;
}

export interface EvolvedTable {
  contract: TableContract;
  codec: EventCodec;
}

interface RelationType {
  name: string;
  type: string;
  notNull: string | null;
  enumLabels: string | null;
}

// Types from the Relation message itself (the shape at this point of the WAL); NOT NULL from the
// catalog now (a column dropped since counts as nullable).
const RELATION_TYPES_SQL = `
SELECT c.name, format_type(c.oid, c.mod) AS type,
       (SELECT a.attnotnull FROM pg_attribute a
         WHERE a.attrelid = to_regclass($4) AND a.attname = c.name AND NOT a.attisdropped)::text AS "notNull",
       (SELECT to_json(array_agg(e.enumlabel::text ORDER BY e.enumsortorder))::text
          FROM pg_type t JOIN pg_enum e ON e.enumtypid = CASE WHEN t.typcategory = 'A' THEN t.typelem ELSE t.oid END
         WHERE t.oid = c.oid) AS "enumLabels"
  FROM unnest($1::text[], $2::oid[], $3::int[]) WITH ORDINALITY AS c(name, oid, mod, ord)
 ORDER BY c.ord`;

const quoteIdent = (s: string) => `"${s.replace(/"/g, '""')}"`;

/** The kind of a type spelling, or undefined when it is none the contract knows. */
function kindOf(type: string, isEnum: boolean): string | undefined {
  try {
    return pgTypeOf(parseSqlType(type, isEnum));
  } catch {
    return undefined;
  }
}

/**
 * The table's contract evolved by the Relation's new nullable columns (registered), or undefined
 * when there is nothing to add. Throws SchemaMismatchError when a contract column changed type.
 */
export async function evolveOnRelation(
  deps: SchemaChangeDeps,
  rel: Pgoutput.MessageRelation,
  current: TableContract,
  topic: string,
): Promise<EvolvedTable | undefined> {
  const table = `${rel.schema}.${rel.name}`;
  const have = new Set(rel.columns.map((c) => c.name));
  // a NOT NULL (or key) column gone: the assembler stops with today's error; nothing to evolve
  if (current.columns.some((c) => !have.has(c.name) && (!c.nullable || current.keyColumns.includes(c.name))))
    return undefined;
  const { rows } = await deps.client.query<RelationType>(RELATION_TYPES_SQL, [
    rel.columns.map((c) => c.name),
    rel.columns.map((c) => c.typeOid),
    rel.columns.map((c) => c.typeMod),
    `${quoteIdent(rel.schema)}.${quoteIdent(rel.name)}`,
  ]);
  const known = new Map(current.columns.map((c) => [c.name, c]));
  const fields: AvroField[] = [];
  const left: string[] = [];
  for (const col of rows) {
    const labels = col.enumLabels ? (JSON.parse(col.enumLabels) as string[]) : undefined;
    const spec = known.get(col.name);
    if (spec) {
      const now = kindOf(col.type, labels !== undefined);
      if (now !== undefined && now !== spec.pgType)
        throw new SchemaMismatchError(
          `column ${table}.${col.name} changed type at the source: ${spec.sqlType} in the event contract, ${col.type} now; its changes cannot be published from here on (nothing after this point is acknowledged)`,
          'a type change is not BACKWARD compatible: change the column back, or publish to a new topic (kafka.topicPrefix) with a contract regenerated from the table (pgcdc contract generate --force)',
        );
      continue;
    }
    if (col.notNull === 'true') {
      left.push(`${col.name} (NOT NULL: not a BACKWARD-compatible addition)`);
      continue;
    }
    try {
      fields.push(
        nullableFieldOf({ name: col.name, type: col.type, ...(labels ? { enumLabels: labels } : {}) }),
      );
    } catch (err) {
      left.push(`${col.name} (${(err as Error).message})`);
    }
  }
  if (left.length > 0)
    deps.logger.warn(
      { table, columns: left },
      'automatic schema changes: new source columns that cannot be added to the contract are not published (docs/contracts.md, Schema changes)',
    );
  if (fields.length === 0) return undefined;
  const contract = withColumns(current, fields);
  const codec = await deps.register(topic, contract);
  const file = await writeEvolved(deps, contract);
  deps.logger.info(
    {
      table,
      topic,
      added: fields.map((f) => `${f.name} ${f.pgType ?? ''}`.trim()),
      valueSchemaId: codec.valueSchemaId,
      fingerprint: fingerprintOf(contract.valueSchema),
      file: file ?? '(not written: source.contracts is not set)',
    },
    'automatic schema change: new nullable columns added to the event contract (a BACKWARD-compatible version, registered); published from the next event on',
  );
  return { contract, codec };
}

/** The evolved value schema beside the pinned one (written whole, then renamed into place). */
async function writeEvolved(deps: SchemaChangeDeps, contract: TableContract): Promise<string | undefined> {
  if (!deps.contractsDir) return undefined;
  const file = path.join(deps.contractsDir, `${contract.table}-value.evolved.avsc`);
  try {
    await writeFile(`${file}.tmp`, `${JSON.stringify(contract.valueSchema, null, 2)}\n`);
    await rename(`${file}.tmp`, file);
    return file;
  } catch (err) {
    // the registry holds the schema the pipeline publishes with; the file is for review only
    deps.logger.warn({ file, err: (err as Error).message }, 'evolved contract file not written');
    return undefined;
  }
}

const TABLE_COLUMNS_SQL = `
SELECT a.attname::text AS name, a.atttypid::int AS "typeOid", a.atttypmod AS "typeMod"
  FROM pg_attribute a
 WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
 ORDER BY a.attnum`;

/**
 * At a session's start: the table's contract evolved by the nullable columns the table has now
 * and the contract lacks, as if a Relation message had shown them. So a producer restarted after
 * an automatic change publishes (and snapshots) the evolved columns from its first event on, not
 * only from the table's next Relation message.
 */
export async function evolveFromCatalog(
  deps: SchemaChangeDeps,
  current: TableContract,
  topic: string,
): Promise<EvolvedTable | undefined> {
  const { rows } = await deps.client.query<{ name: string; typeOid: number; typeMod: number }>(
    TABLE_COLUMNS_SQL,
    [`${quoteIdent(current.schema)}.${quoteIdent(current.table)}`],
  );
  if (rows.length === 0) return undefined; // no such table: prepareSource says so
  const rel = {
    tag: 'relation',
    relationOid: 0,
    schema: current.schema,
    name: current.table,
    replicaIdentity: 'default',
    keyColumns: [],
    columns: rows.map((r) => ({
      ...r,
      flags: 0,
      typeSchema: null,
      typeName: null,
      parser: (v: unknown) => v,
    })),
  } satisfies Pgoutput.MessageRelation;
  return evolveOnRelation(deps, rel, current, topic);
}
