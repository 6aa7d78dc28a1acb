// What reconcile compares for one table of one target, decided once from the configuration: the
// source table and its contract, the target table, and the target's shape (consumers/mapping/
// shape.ts, the very shape the target's sink is built with), so the rows reconcile expects are
// the rows the sink would write. Pure.
//
// - The compared columns are the shape's columns but the soft-delete column; a soft-deleted row
//   counts as absent at the target (the sink's deletePolicy soft removed it).
// - `sqlHashes`: every compared column is a plain source column (include/exclude/rename only, no
//   filter, constants or computed fields), so a chunk can be hashed on both servers by the
//   columns' text and only differing chunks are read row by row; otherwise every chunk is read
//   and each source row mapped in process (CEL) before it is compared.
// - A matched target (mapping.match, PostgreSQL or MySQL/MariaDB) is compared in the source key's
//   terms through its links table (postgres.ts, mysql.ts): each link names the target row of a
//   source key; rows the target system made itself (no link) have no source key and are not
//   compared (docs/reconcile.md).
// - Extra rows are drift unless the delete policy is `ignore` (the target keeps removed rows by
//   design).
import { compileShape, type TargetColumn, type TargetShape } from '../../consumers/mapping/shape.ts';
import type { Config, TargetConfig } from '../../pipeline/config/schema.ts';
import { contractOf, tableName, targetRoutesOf, type TableRef } from '../../pipeline/config/schema.ts';
import { ConfigError } from '../../pipeline/errors.ts';
import { mappingFor, type MappingConfig } from '../../pipeline/config/mapping.ts';
import type { ColumnSpec, TableContract } from '../../schemas/contract.ts';

export type ReadableTarget = Extract<TargetConfig, { type: 'postgres' | 'mysql' }>;

export interface TablePlan {
  /** `schema.table` of the source table */
  table: string;
  contract: TableContract;
  shape: TargetShape;
  /** where the target holds the table */
  at: TableRef;
  /** the target's columns compared, in order (the shape's, less the soft-delete column) */
  columns: TargetColumn[];
  /** source key columns and their names (and specs) at the target, in key order */
  key: { source: string; target: string; spec: ColumnSpec }[];
  softDelete: TargetShape['softDelete'];
  sqlHashes: boolean;
  extrasAreDrift: boolean;
  /** the target's kind: a MySQL/MariaDB target holds only what its types can (mysql/types.ts) */
  kind: ReadableTarget['type'];
}

/** The target of this name, if reconcile can read it back; a webhook is refused with the re-feed. */
export function readableTarget(config: Config, name: string): ReadableTarget {
  const target = config.targets.find((t) => t.name === name);
  if (!target)
    throw new ConfigError(`no target named "${name}"`, {
      hint: `configured targets: ${config.targets.map((t) => t.name).join(', ') || '(none)'}`,
    });
  if (target.type === 'webhook')
    throw new ConfigError(`target ${name} is a webhook: its receiver cannot be read back to compare`, {
      hint: 'to send it every row again, re-feed the table: pgcdc snapshot [--table schema.table]',
    });
  return target;
}

export function planTable(
  contract: TableContract,
  target: ReadableTarget,
  at: TableRef,
  /** the mapping of this table (mappingFor); default: the target's one mapping */
  mapping: MappingConfig | undefined = Array.isArray(target.mapping) ? undefined : target.mapping,
): TablePlan {
  const { shape, problems } = compileShape(mapping, contract);
  if (!shape)
    throw new ConfigError(
      `target ${target.name}: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`,
      { hint: 'fix the mapping (pgcdc check shows the resulting shape); docs/shaping.md' },
    );
  const columns = shape.columns.filter((c) => c.origin.kind !== 'soft-delete');
  const key = contract.keyColumns.map((k) => ({
    source: k,
    target: shape.keyNames.get(k) ?? k,
    spec: contract.columns.find((c) => c.name === k)!,
  }));
  return {
    table: tableName(contract),
    contract,
    shape,
    at,
    columns,
    key,
    softDelete: shape.softDelete,
    sqlHashes:
      shape.filter === undefined &&
      shape.match === undefined &&
      columns.every((c) => c.origin.kind === 'column'),
    extrasAreDrift: shape.deletePolicy !== 'ignore',
    kind: target.type,
  };
}

/** The plans of the tables a target receives (or of one, `--table`). */
export function planTarget(config: Config, target: ReadableTarget, only?: TableRef): TablePlan[] {
  const routes = targetRoutesOf(config.source, target).filter(
    (r) => !only || (r.source.schema === only.schema && r.source.table === only.table),
  );
  if (only && routes.length === 0)
    throw new ConfigError(`target ${target.name} does not receive ${tableName(only)}`, {
      hint: 'targets[].tables lists what it receives; docs/tables.md',
    });
  return routes.map((r) => {
    const at = target.type === 'mysql' ? { schema: r.at.schema, table: r.at.table } : r.at;
    return planTable(
      contractOf(config.source, r.source),
      target,
      at,
      mappingFor(config.source, target, r.source),
    );
  });
}
