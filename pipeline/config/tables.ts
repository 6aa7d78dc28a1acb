// Several tables per pipeline (docs/tables.md): which source tables the producer captures
// (`source.tables`, or the one-table shorthand `source.schema`/`source.table`), which of them each
// target receives (`targets[].tables`, default all) and, for a Postgres target, where each goes at
// the peer. Pure: names in, resolved table references out. Every table has its own topic, contract
// and consumer-side sink; events of two tables are not ordered against each other.
import { z } from 'zod';
import { identifier } from './fields.ts';
import { topicFor, type KafkaConfig } from './kafka.ts';

/** A table of the source (or of a peer): schema and name, both plain SQL identifiers. */
export interface TableRef {
  schema: string;
  table: string;
}

/** `schema.table`, the one way a table is named in messages, metrics, checkpoints and options. */
export const tableName = (t: TableRef): string => `${t.schema}.${t.table}`;

const NAME_RE = /^(?:([A-Za-z_][A-Za-z0-9_$]{0,62})\.)?([A-Za-z_][A-Za-z0-9_$]{0,62})$/;

/** `schema.table` or `table` (then in `defaultSchema`); undefined when it is not such a name. */
export function parseTableName(text: string, defaultSchema = 'public'): TableRef | undefined {
  const m = NAME_RE.exec(text);
  return m ? { schema: m[1] ?? defaultSchema, table: m[2]! } : undefined;
}

const tableNameText = z.string().regex(NAME_RE, 'must be "schema.table" or "table" (plain SQL identifiers)');

/** One entry of source.tables: "schema.table", "table" (in source.schema), or {schema, table}. */
export const SourceTableSchema = z.union([
  tableNameText,
  z
    .object({
      schema: identifier.default('public').describe('schema of the table'),
      table: identifier.describe('the table'),
    })
    .strict(),
]);

export const SourceTablesSchema = z
  .array(SourceTableSchema)
  .min(1)
  .optional()
  .describe(
    'the tables captured, each "schema.table" (or {schema, table}); one publication, one slot, one topic per table (<prefix>.<schema>.<table>). Replaces source.table (which stays the one-table shorthand). docs/tables.md',
  );

/** One entry of a target's tables: a source table by name, for Postgres optionally where it goes. */
const TargetTableEntrySchema = z.union([
  tableNameText,
  z
    .object({
      name: tableNameText.describe('the source table, "schema.table"'),
      schema: identifier.optional().describe('schema at the peer (default: the source schema)'),
      table: identifier.optional().describe('table at the peer (default: the source table name)'),
    })
    .strict(),
]);

export const TargetTablesSchema = z
  .array(TargetTableEntrySchema)
  .min(1)
  .optional()
  .describe(
    'the source tables this target receives (default all), "schema.table"; a Postgres target may give {name, schema, table} to place one elsewhere at the peer (default: the same schema.table). docs/tables.md',
  );

type SourceTablesInput = z.output<typeof SourceTablesSchema>;
type TargetTablesInput = z.output<typeof TargetTablesSchema>;

/** The captured tables, in configuration order: source.tables, else source.schema.source.table. */
export function sourceTablesOf(source: {
  schema: string;
  table: string;
  tables?: SourceTablesInput;
}): TableRef[] {
  if (!source.tables) return [{ schema: source.schema, table: source.table }];
  // a malformed name has its own issue (the schema's regex): not a table
  return source.tables.flatMap((t) => {
    const ref = typeof t === 'string' ? parseTableName(t, source.schema) : t;
    return ref ? [{ schema: ref.schema, table: ref.table }] : [];
  });
}

/** A table a target receives: the source table and where it is applied (Postgres targets). */
export interface TargetRoute {
  source: TableRef;
  /** where the events go at the peer (Postgres targets); the source names for other kinds */
  at: TableRef;
}

/**
 * The tables `target` receives and where each goes. With the one-table shorthand (no
 * source.tables) and no target tables, the target's own schema/table place the table, as before;
 * otherwise each goes to the same schema.table at the peer unless its entry says otherwise.
 */
export function targetRoutesOf(
  source: { schema: string; table: string; tables?: SourceTablesInput },
  target: { schema?: string; table?: string; tables?: TargetTablesInput },
): TargetRoute[] {
  const captured = sourceTablesOf(source);
  if (!target.tables) {
    if (!source.tables && target.table !== undefined)
      return [
        {
          source: captured[0]!,
          at: { schema: target.schema ?? captured[0]!.schema, table: target.table },
        },
      ];
    return captured.map((t) => ({ source: t, at: t }));
  }
  return target.tables.map((e) => {
    const name = typeof e === 'string' ? e : e.name;
    const ref = resolveCaptured(captured, name, source.schema);
    if (!ref) throw new Error(`target table "${name}" is not a source table`);
    const at = typeof e === 'string' ? ref : { schema: e.schema ?? ref.schema, table: e.table ?? ref.table };
    return { source: ref, at };
  });
}

/** The captured table a name means: "schema.table" exactly, or a bare "table" (source.schema first). */
export function resolveCaptured(
  captured: TableRef[],
  text: string,
  defaultSchema: string,
): TableRef | undefined {
  const want = parseTableName(text, defaultSchema);
  if (!want) return undefined;
  const exact = captured.find((t) => t.schema === want.schema && t.table === want.table);
  if (exact || text.includes('.')) return exact;
  const byName = captured.filter((t) => t.table === want.table);
  return byName.length === 1 ? byName[0] : undefined;
}

/** Configuration mistakes across source.tables and targets[].tables, as [path, message] pairs. */
export function tablesIssues(
  source: { schema: string; table: string; tables?: SourceTablesInput },
  targets: { name: string; type: string; tables?: TargetTablesInput }[],
): { path: (string | number)[]; message: string }[] {
  const issues: { path: (string | number)[]; message: string }[] = [];
  const captured = sourceTablesOf(source);
  const seen = new Set<string>();
  captured.forEach((t, i) => {
    if (seen.has(tableName(t)))
      issues.push({ path: ['source', 'tables', i], message: `table ${tableName(t)} is listed twice` });
    seen.add(tableName(t));
  });
  // the contract files are named by table (<table>-key.avsc): two schemas' same-named tables collide
  const names = new Map<string, string>();
  captured.forEach((t, i) => {
    const other = names.get(t.table);
    if (other && other !== tableName(t))
      issues.push({
        path: ['source', 'tables', i],
        message: `${tableName(t)} and ${other} share the contract files ${t.table}-key.avsc/-value.avsc: capture one of them per pipeline`,
      });
    names.set(t.table, tableName(t));
  });
  targets.forEach((target, ti) => {
    const places = new Set<string>();
    (target.tables ?? []).forEach((e, i) => {
      const name = typeof e === 'string' ? e : e.name;
      const ref = resolveCaptured(captured, name, source.schema);
      if (!ref) {
        issues.push({
          path: ['targets', ti, 'tables', i],
          message: `"${name}" is not a captured table (source tables: ${captured.map(tableName).join(', ')})`,
        });
        return;
      }
      if (typeof e !== 'string' && target.type !== 'postgres' && (e.schema || e.table))
        issues.push({
          path: ['targets', ti, 'tables', i],
          message: 'schema/table (where a table goes) are for postgres targets only',
        });
      const at = typeof e === 'string' ? tableName(ref) : `${e.schema ?? ref.schema}.${e.table ?? ref.table}`;
      if (places.has(at))
        issues.push({ path: ['targets', ti, 'tables', i], message: `two tables go to ${at}` });
      places.add(at);
    });
  });
  return issues;
}

type TablesSource = { schema: string; table: string; tables?: SourceTablesInput };

/** The change topic of every captured table, in configuration order. */
export function sourceTopicsOf(kafka: KafkaConfig, source: TablesSource): string[] {
  return sourceTablesOf(source).map((t) => topicFor(kafka, t));
}

/** The change topics a target's consumer group reads (one per table it receives). */
export function targetTopicsOf(
  kafka: KafkaConfig,
  source: TablesSource,
  target: { schema?: string; table?: string; tables?: TargetTablesInput },
): string[] {
  return targetRoutesOf(source, target).map((r) => topicFor(kafka, r.source));
}
