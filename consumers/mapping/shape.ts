// A target's shape, compiled once from its `mapping` (pipeline/config/mapping.ts) and the source
// table's contract: the columns the target receives (source columns, renamed or not, constants,
// computed fields, the soft-delete column) with their types, its key, the row filter, the delete
// policy, the transitions and event types. Every problem is named (unknown column, sensitive
// column not asked for, expression that does not compile, type mismatch, a key left out), so
// `pgcdc check` and the start refuse a shape that cannot work. Pure.
import type { MappingConfig, MappedType } from '../../pipeline/config/mapping.ts';
import { parseTableName } from '../../pipeline/config/tables.ts';
import { ConfigError } from '../../pipeline/errors.ts';
import {
  rowRecordOf,
  type ColumnSpec,
  type ColumnValue,
  type PgType,
  type TableContract,
} from '../../schemas/contract.ts';
import {
  celFits,
  compile,
  ExpressionError,
  pgTypeOfCel,
  rowEnvironment,
  transitionEnvironment,
  type Compiled,
} from '../../pipeline/cel.ts';

export type ColumnOrigin =
  | { kind: 'column'; source: string }
  | { kind: 'constant'; value: ColumnValue }
  | { kind: 'computed'; expression: Compiled }
  | { kind: 'soft-delete' };

export interface TargetColumn extends ColumnSpec {
  origin: ColumnOrigin;
}

export interface Transition {
  name: string;
  expression: Compiled;
}

export const BASE_EVENT_TYPES = ['created', 'updated', 'deleted', 'snapshot', 'truncated'] as const;

export interface TargetShape {
  /** the source table's columns (what expressions see) */
  source: ColumnSpec[];
  /** the source columns the filter and computed fields read (the variables an evaluation gets) */
  reads: ColumnSpec[];
  /** the target's columns, in order */
  columns: TargetColumn[];
  /** the target's names of the source key columns */
  keyColumns: string[];
  /** source key column -> target name */
  keyNames: Map<string, string>;
  filter: Compiled | undefined;
  deletePolicy: 'delete' | 'soft' | 'ignore';
  softDelete: { column: string; type: 'timestamptz' | 'boolean' } | undefined;
  transitions: Transition[];
  /** event types delivered (webhooks); undefined: all */
  events: Set<string> | undefined;
  /** match by this target column instead of the source key (Postgres and MySQL targets) */
  match: { column: string; caseInsensitive: boolean; targetKey: string } | undefined;
}

export interface ShapeProblem {
  /** the configuration key, e.g. mapping.computed.name */
  path: string;
  message: string;
}

/** Columns the contract marks `"sensitive": true` (sent only to a target that names them). */
export function sensitiveColumns(contract: TableContract): Set<string> {
  const rec = rowRecordOf(contract.valueSchema);
  return new Set(
    rec.fields.filter((f) => (f as { sensitive?: unknown }).sensitive === true).map((f) => f.name),
  );
}

function constantOf(
  value: string | number | boolean | null,
  type: MappedType | undefined,
): { pgType: PgType; value: ColumnValue } | string {
  const pgType: PgType =
    type ??
    (typeof value === 'boolean'
      ? 'boolean'
      : typeof value === 'number'
        ? Number.isInteger(value)
          ? 'bigint'
          : 'numeric'
        : 'text');
  if (value === null) return { pgType, value: null };
  switch (pgType) {
    case 'bigint':
    case 'timestamptz':
      if (typeof value === 'number' && Number.isInteger(value)) return { pgType, value: BigInt(value) };
      if (typeof value === 'string' && /^-?\d+$/.test(value)) return { pgType, value: BigInt(value) };
      return `${JSON.stringify(value)} is not a ${pgType}`;
    case 'numeric':
      return typeof value === 'boolean' ? `${value} is not a numeric` : { pgType, value: String(value) };
    case 'boolean':
      return typeof value === 'boolean' ? { pgType, value } : `${JSON.stringify(value)} is not a boolean`;
    case 'text':
    case 'jsonb':
      return typeof value === 'string' ? { pgType, value } : `${JSON.stringify(value)} is not a string`;
    case 'text[]':
      return 'a text[] constant is not supported';
    default:
      return pgType satisfies never;
  }
}

type Problem = (path: string, message: string) => void;

/** The webhook transitions (over `before` and `after`) and the event types asked for. */
function compileTransitions(
  m: MappingConfig,
  byName: Map<string, ColumnSpec>,
  problem: Problem,
): Transition[] {
  const tenv = transitionEnvironment();
  const transitions: Transition[] = [];
  for (const [name, source] of Object.entries(m.transitions)) {
    if ((BASE_EVENT_TYPES as readonly string[]).includes(name))
      problem(`transitions.${name}`, 'is a built-in event type');
    try {
      const expression = compile(tenv, source, 'transition');
      const unknown = [...expression.reads].filter((r) => !byName.has(r));
      if (unknown.length > 0) problem(`transitions.${name}`, `unknown column(s) ${unknown.join(', ')}`);
      transitions.push({ name, expression });
    } catch (err) {
      if (!(err instanceof ExpressionError)) throw err;
      problem(`transitions.${name}`, `does not compile: ${err.message}`);
    }
  }
  const known = new Set<string>([...BASE_EVENT_TYPES, ...Object.keys(m.transitions)]);
  for (const t of m.events ?? [])
    if (!known.has(t)) problem('events', `unknown event type "${t}" (built-in or a declared transition)`);
  return transitions;
}

/**
 * The shape of a target; `mapping` undefined is the exact copy (less sensitive columns). The
 * shape is undefined when there are problems.
 */
export function compileShape(
  mapping: MappingConfig | undefined,
  contract: TableContract,
): { shape: TargetShape | undefined; problems: ShapeProblem[] } {
  const problems: ShapeProblem[] = [];
  const problem = (path: string, message: string) => problems.push({ path: `mapping.${path}`, message });
  const m: MappingConfig = mapping ?? {
    exclude: [],
    rename: {},
    constants: {},
    computed: {},
    deletePolicy: 'delete',
    transitions: {},
  };
  const byName = new Map(contract.columns.map((c) => [c.name, c]));
  const sensitive = sensitiveColumns(contract);
  const named = m.table === undefined ? undefined : parseTableName(m.table, contract.schema);
  if (named && (named.schema !== contract.schema || named.table !== contract.table))
    problem('table', `the source table is ${contract.schema}.${contract.table}, not ${m.table}`);
  for (const [i, c] of [...(m.include ?? []), ...m.exclude].entries())
    if (!byName.has(c))
      problem(
        i < (m.include?.length ?? 0) ? 'include' : 'exclude',
        `unknown column "${c}" (not in the contract of ${contract.table})`,
      );
  for (const c of Object.keys(m.rename)) if (!byName.has(c)) problem(`rename.${c}`, `unknown column "${c}"`);

  const picked = contract.columns
    .filter((c) => (m.include ? m.include.includes(c.name) : !sensitive.has(c.name)))
    .filter((c) => !m.exclude.includes(c.name));
  const columns: TargetColumn[] = picked.map((c) => ({
    ...c,
    name: m.rename[c.name] ?? c.name,
    origin: { kind: 'column', source: c.name },
  }));
  const keyNames = new Map<string, string>();
  for (const k of contract.keyColumns) {
    if (!m.match && !picked.some((c) => c.name === k))
      problem(m.include ? 'include' : 'exclude', `the key column "${k}" must be sent`);
    keyNames.set(k, m.rename[k] ?? k);
  }

  for (const [name, c] of Object.entries(m.constants)) {
    const v = constantOf(c.value, c.type);
    if (typeof v === 'string') problem(`constants.${name}`, v);
    else
      columns.push({
        name,
        sqlType: v.pgType, // the mapped types are spelled as SQL
        pgType: v.pgType,
        nullable: v.value === null,
        origin: { kind: 'constant', value: v.value },
      });
  }

  const env = rowEnvironment(contract.columns);
  for (const [name, def] of Object.entries(m.computed)) {
    const { expression, type } = typeof def === 'string' ? { expression: def, type: undefined } : def;
    try {
      const compiled = compile(env, expression, 'row');
      const leaked = [...compiled.reads].filter((r) => sensitive.has(r) && !m.include?.includes(r));
      if (leaked.length > 0)
        problem(
          `computed.${name}`,
          `reads sensitive column(s) ${leaked.join(', ')} the target did not ask for (name them in include)`,
        );
      const pgType = type ?? pgTypeOfCel(compiled.type);
      if (!pgType)
        problem(
          `computed.${name}`,
          `cannot infer a column type from CEL type ${compiled.type}: declare type`,
        );
      else if (!celFits(compiled.type, pgType))
        problem(
          `computed.${name}`,
          `type mismatch: the expression is ${compiled.type}, the column ${pgType}`,
        );
      else
        columns.push({
          name,
          sqlType: pgType,
          pgType,
          nullable: true,
          origin: { kind: 'computed', expression: compiled },
        });
    } catch (err) {
      if (!(err instanceof ExpressionError)) throw err;
      problem(`computed.${name}`, `does not compile: ${err.message}`);
    }
  }

  let filter: Compiled | undefined;
  if (m.filter !== undefined) {
    try {
      filter = compile(env, m.filter, 'row');
      if (filter.type !== 'bool' && filter.type !== 'dyn')
        problem('filter', `must be bool, is ${filter.type}`);
    } catch (err) {
      if (!(err instanceof ExpressionError)) throw err;
      problem('filter', `does not compile: ${err.message}`);
    }
  }

  if (m.softDelete) {
    columns.push({
      name: m.softDelete.column,
      sqlType: m.softDelete.type,
      pgType: m.softDelete.type,
      nullable: m.softDelete.type === 'timestamptz',
      origin: { kind: 'soft-delete' },
    });
  }

  const seen = new Set<string>();
  for (const c of columns) {
    if (seen.has(c.name)) problem('rename', `two columns of the target are named "${c.name}"`);
    if (c.name.startsWith('_pgcdc_'))
      problem('rename', `"${c.name}": the _pgcdc_ prefix is pgcdc's bookkeeping`);
    seen.add(c.name);
  }

  if (m.match) {
    const col = columns.find((c) => c.name === m.match!.column);
    if (!col) problem('match.column', `"${m.match.column}" is not a column of the target`);
    else if (col.pgType !== 'text' && col.pgType !== 'bigint')
      problem('match.column', `"${m.match.column}" is ${col.pgType}; a match key is text or bigint`);
    else if (m.match.caseInsensitive && col.pgType !== 'text')
      problem('match.caseInsensitive', 'only for a text match column');
    if (seen.has(m.match.targetKey))
      problem(
        'match.targetKey',
        `"${m.match.targetKey}" is generated by the target; no mapped column may have its name`,
      );
  }

  const transitions = compileTransitions(m, byName, problem);

  if (problems.length > 0) return { shape: undefined, problems };
  return {
    shape: {
      source: contract.columns,
      reads: contract.columns.filter(
        (c) =>
          filter?.reads.has(c.name) ||
          columns.some((x) => x.origin.kind === 'computed' && x.origin.expression.reads.has(c.name)),
      ),
      columns,
      keyColumns: contract.keyColumns.map((k) => keyNames.get(k)!),
      keyNames,
      filter,
      deletePolicy: m.deletePolicy,
      softDelete: m.softDelete,
      transitions,
      events: m.events ? new Set(m.events) : undefined,
      match: m.match,
    },
    problems,
  };
}

/** Is the shape the exact copy (nothing to do per event)? */
export function isIdentity(shape: TargetShape): boolean {
  return (
    shape.filter === undefined &&
    shape.deletePolicy === 'delete' &&
    shape.transitions.length === 0 &&
    shape.events === undefined &&
    shape.match === undefined &&
    shape.columns.length === shape.source.length &&
    shape.columns.every(
      (c, i) => c.origin.kind === 'column' && c.origin.source === c.name && shape.source[i]!.name === c.name,
    )
  );
}

/**
 * The shape a target's sink is built for, or undefined when it is the exact copy (the sink is
 * then used as it is: an unmapped target pays nothing). Throws ConfigError naming every problem.
 */
export function targetShape(
  target: { name: string; mapping?: MappingConfig | undefined },
  contract: TableContract,
): TargetShape | undefined {
  const { shape, problems } = compileShape(target.mapping, contract);
  if (!shape)
    throw new ConfigError(
      `target ${target.name}: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`,
      { hint: 'fix the mapping (pgcdc check shows the resulting shape); docs/shaping.md' },
    );
  return isIdentity(shape) ? undefined : shape;
}
