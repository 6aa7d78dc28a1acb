// `pgcdc check` for each target's shape (`targets[].mapping`, consumers/mapping/shape.ts): the
// resulting columns with their types and origins, key, filter, delete policy and match key, as an
// INFO line; every problem as an ERROR naming the key (unknown column, type mismatch, expression
// that does not compile, a transition without the previous row the source must log with REPLICA
// IDENTITY FULL, a match key that is not unique at the target, Postgres or MySQL (mysql-match.ts);
// a match key or soft delete at a webhook target is refused by the configuration already). Reads
// catalogs only; changes nothing.
import pg from 'pg';
import { compileShape, type TargetColumn, type TargetShape } from '../../consumers/mapping/shape.ts';
import { mappingFor, type MappingConfig } from '../../pipeline/config/mapping.ts';
import {
  contractOf,
  tableName,
  targetRoutesOf,
  type Config,
  type TargetConfig,
} from '../../pipeline/config/schema.ts';
import { createPgConnections, type PgConnections } from '../../pipeline/postgres.ts';
import type { TableContract } from '../../schemas/contract.ts';
import { COLUMNS_SQL, compareColumns, matchColumnNotNull, type PgColumn } from './columns.ts';
import { checkMysqlMatchedTable } from './mysql-match.ts';
import { error, errMessage, info, ok, type CheckResult } from './types.ts';

const origin = (c: TargetColumn): string => {
  const o = c.origin;
  switch (o.kind) {
    case 'column':
      return o.source === c.name ? '' : ` <- ${o.source}`;
    case 'constant':
      return ` = ${o.value === null ? 'null' : String(o.value)}`;
    case 'computed':
      return ` = ${o.expression.source}`;
    case 'soft-delete':
      return ' (soft delete)';
    default:
      return o satisfies never;
  }
};

/** The shape in one line: columns (type, origin), key, filter, delete policy, match, events. */
export function describeShape(shape: TargetShape): string {
  const parts = [
    `columns ${shape.columns.map((c) => `${c.name} ${c.sqlType}${origin(c)}`).join(', ')}`,
    shape.match
      ? `key ${shape.match.targetKey} (the target's own), matched by ${shape.match.caseInsensitive ? `lower(${shape.match.column})` : shape.match.column}`
      : `key (${shape.keyColumns.join(', ')})`,
    `filter ${shape.filter ? shape.filter.source : '(every row)'}`,
    `deletePolicy ${shape.deletePolicy}${shape.softDelete ? ` (${shape.softDelete.column})` : ''}`,
  ];
  if (shape.transitions.length > 0)
    parts.push(`transitions ${shape.transitions.map((t) => t.name).join(', ')}`);
  if (shape.events) parts.push(`events ${[...shape.events].join(', ')}`);
  return parts.join('; ');
}

export async function checkShapes(
  config: Config,
  connections: PgConnections = createPgConnections(config.connections),
): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  const replicaFull = new Map<string, Promise<boolean | undefined>>();
  for (const t of config.targets) {
    const routes = targetRoutesOf(config.source, t);
    for (const route of routes) {
      const mapping = mappingFor(config.source, t, route.source);
      const contract = contractOf(config.source, route.source);
      // several tables: each line names its table
      const label = routes.length > 1 ? `target ${t.name} (${tableName(route.source)})` : `target ${t.name}`;
      const at = { ...t, ...route.at } as TargetConfig;
      out.push(...(await checkShape(config, at, mapping, label, contract, replicaFull, connections)));
    }
  }
  return out;
}

/** One table's shape at one target: its problems, the shape line, and the checks it needs. */
async function checkShape(
  config: Config,
  t: TargetConfig,
  mapping: MappingConfig | undefined,
  label: string,
  contract: TableContract,
  replicaFull: Map<string, Promise<boolean | undefined>>,
  connections: PgConnections,
): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  const id = `target.${t.name}.shape`;
  const { shape, problems } = compileShape(mapping, contract);
  for (const p of problems)
    out.push(
      error(id, `${label}: ${p.path}: ${p.message}`, `fix targets[${t.name}].${p.path} (docs/shaping.md)`),
    );
  if (!shape || !mapping) return out; // the exact copy: the table checks say all there is
  out.push(info(id, `${label}: ${describeShape(shape)}`));
  if (shape.transitions.length > 0) {
    const table = `${contract.schema}.${contract.table}`;
    if (!replicaFull.has(table)) replicaFull.set(table, sourceLogsOldRows(config, contract, connections));
    const full = await replicaFull.get(table);
    if (full === false)
      out.push(
        error(
          id,
          `${label}: transitions ${shape.transitions.map((x) => x.name).join(', ')} need the previous row, which ${table} does not log (REPLICA IDENTITY is not FULL): they would never be emitted`,
          `ALTER TABLE ${table} REPLICA IDENTITY FULL;`,
        ),
      );
  }
  if (shape.match && t.type === 'postgres') out.push(...(await checkMatchedTable(t, shape, connections)));
  if (shape.match && t.type === 'mysql') out.push(...(await checkMysqlMatchedTable(t, shape)));
  return out;
}

/** Does the source log the whole previous row (REPLICA IDENTITY FULL)? undefined: cannot tell. */
async function sourceLogsOldRows(config: Config, contract: TableContract, connections: PgConnections) {
  const client = connections.client(config.source.url, 'ops', 'pgcdc-check');
  client.on('error', () => undefined);
  try {
    await client.connect();
    const r = await client.query<{ full: boolean }>(
      "SELECT relreplident = 'f' AS full FROM pg_class WHERE oid = to_regclass($1)",
      [`${pg.escapeIdentifier(contract.schema)}.${pg.escapeIdentifier(contract.table)}`],
    );
    return r.rows[0]?.full;
  } catch {
    return undefined; // the source checks report the connection
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A matched target's table: the mapped columns with their types, and a unique index on the match key. */
async function checkMatchedTable(
  t: Extract<TargetConfig, { type: 'postgres' }>,
  shape: TargetShape,
  connections: PgConnections,
): Promise<CheckResult[]> {
  const id = `target.${t.name}.match`;
  const match = shape.match!;
  const client = connections.client(t.url, 'ops', 'pgcdc-check');
  client.on('error', () => undefined);
  try {
    await client.connect();
    const rel = (
      await client.query<{ oid: number | null }>('SELECT to_regclass($1)::oid::int AS oid', [
        `${pg.escapeIdentifier(t.schema)}.${pg.escapeIdentifier(t.table)}`,
      ])
    ).rows[0]?.oid;
    if (!rel)
      return [
        t.createTable
          ? ok(
              id,
              `table ${t.schema}.${t.table} will be created with ${match.targetKey} and a unique match key`,
            )
          : error(
              id,
              `table ${t.schema}.${t.table} does not exist and createTable is false`,
              'create it, or set createTable: true',
            ),
      ];
    const out: CheckResult[] = [];
    const cols = (await client.query<PgColumn>(COLUMNS_SQL, [rel])).rows;
    const m = compareColumns(cols, shape.columns);
    const bad = [
      ...m.missing.map((c) => `${c.name} missing`),
      ...m.wrongType.map((c) => `${c.name} is ${c.actual}, the shape gives ${c.expected} (type mismatch)`),
    ];
    if (bad.length > 0)
      out.push(
        error(
          id,
          `table ${t.schema}.${t.table} does not fit the shape: ${bad.join('; ')}`,
          'fix the table or the mapping',
        ),
      );
    if (cols.find((c) => c.name === match.column)?.notNull) {
      const table = `${pg.escapeIdentifier(t.schema)}.${pg.escapeIdentifier(t.table)}`;
      out.push(
        error(
          id,
          matchColumnNotNull(`${t.schema}.${t.table}`, match.column),
          `ALTER TABLE ${table} ALTER COLUMN ${pg.escapeIdentifier(match.column)} DROP NOT NULL;`,
        ),
      );
    }
    const want = match.caseInsensitive ? `lower(${match.column})` : match.column;
    const idx = await client.query<{ def: string }>(
      `SELECT pg_get_indexdef(i.indexrelid, 1, true) AS def FROM pg_index i WHERE i.indrelid = $1 AND i.indisunique AND i.indnkeyatts = 1 AND i.indpred IS NULL`,
      [rel],
    );
    const unique = idx.rows.some((r) => r.def.replace(/"/g, '').replace(/::text/g, '') === want);
    out.push(
      unique
        ? ok(id, `${want} is unique at ${t.schema}.${t.table}`)
        : error(
            id,
            `the match key ${want} is not unique at ${t.schema}.${t.table}: two rows could claim one source row`,
            `CREATE UNIQUE INDEX ON ${t.schema}.${t.table} (${want});`,
          ),
    );
    return out;
  } catch (err) {
    return [error(id, `reading the target catalog failed: ${errMessage(err)}`, 'see the message')];
  } finally {
    await client.end().catch(() => undefined);
  }
}
