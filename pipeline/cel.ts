// CEL (the Common Expression Language of cel-spec) for a target's mapping and the source filter,
// through the maintained @marcbachmann/cel-js: non-Turing-complete, no I/O, bounded, type-checked before it runs. A
// table's columns are variables under their own names, typed from the contract (bigint -> int,
// text/jsonb/numeric -> string, boolean -> bool, text[] -> list<string>, timestamptz -> int
// microseconds since 1970); a nullable column is optional<T> (`first_name.orValue("")`). A
// transition sees two rows, `before` and `after`, as maps. Pure: compile once, evaluate per row.
import { Environment, Optional, type ASTNode } from '@marcbachmann/cel-js';
import type { ColumnSpec, ColumnValue, PgType, Row, ScalarValue } from '../schemas/contract.ts';
import { PG_TYPES, splitPgType, type DomainRepr } from '../schemas/types.ts';

/** The CEL type of a scalar kind's values, from its domain representation (schemas/types.ts). */
function celScalarOf(repr: DomainRepr): string {
  switch (repr) {
    case 'int':
    case 'long':
      return 'int';
    case 'float':
    case 'double':
      return 'double';
    case 'string':
      return 'string';
    case 'boolean':
      return 'bool';
    case 'bytes':
      return 'bytes';
    default:
      return repr satisfies never;
  }
}

/** The CEL type of a column's values. */
export function celTypeOf(pgType: PgType): string {
  const { kind, array } = splitPgType(pgType);
  // numeric travels as exact text; jsonb/json as their text
  const scalar = celScalarOf(PG_TYPES[kind].repr);
  return array ? `list<${scalar}>` : scalar;
}

/** The column type a CEL result type is written as (undefined: none fits). */
export function pgTypeOfCel(celType: string): PgType | undefined {
  const t = celType.replace(/^optional<(.*)>$/, '$1');
  switch (t) {
    case 'int':
      return 'bigint';
    case 'string':
      return 'text';
    case 'bool':
      return 'boolean';
    case 'double':
      return 'numeric';
    case 'list<string>':
      return 'text[]';
    default:
      return undefined;
  }
}

/** Can a CEL result of `celType` be written into a column of `pgType`? (dyn: checked per row) */
export function celFits(celType: string, pgType: PgType): boolean {
  const t = celType.replace(/^optional<(.*)>$/, '$1');
  if (t === 'dyn') return true;
  if (pgType === 'numeric') return t === 'double' || t === 'int' || t === 'string';
  return celTypeOf(pgType) === t || (t === 'list<dyn>' && pgType === 'text[]');
}

export interface Compiled {
  source: string;
  /** the inferred CEL result type */
  type: string;
  /** the columns (or, in transitions, fields of before/after) it reads */
  reads: Set<string>;
  evaluate(vars: Record<string, unknown>): unknown;
}

export class ExpressionError extends Error {}

function baseEnvironment(): Environment {
  return new Environment({
    enableOptionalTypes: true,
    limits: {
      maxAstNodes: 2000,
      maxDepth: 64,
      maxListElements: 1000,
      maxMapEntries: 1000,
      maxCallArguments: 32,
    },
  });
}

/** An environment whose variables are the columns (row expressions: filter, computed fields). */
export function rowEnvironment(columns: ColumnSpec[]): Environment {
  const env = baseEnvironment();
  for (const c of columns) {
    const t = celTypeOf(c.pgType);
    env.registerVariable(c.name, c.nullable ? `optional<${t}>` : t);
  }
  return env;
}

/** An environment with `before` and `after`, the two rows of a change (transitions). */
export function transitionEnvironment(): Environment {
  return baseEnvironment()
    .registerVariable('before', 'map<string, dyn>')
    .registerVariable('after', 'map<string, dyn>');
}

function collectReads(node: ASTNode, into: Set<string>, rows: boolean): void {
  if (node.op === 'id') {
    if (!rows) into.add(node.args);
    return;
  }
  if (rows && (node.op === '.' || node.op === '.?') && node.args[0].op === 'id') {
    const base = node.args[0].args;
    if (base === 'before' || base === 'after') into.add(node.args[1]);
  }
  const args: unknown = node.args;
  const visit = (x: unknown): void => {
    if (Array.isArray(x)) x.forEach(visit);
    else if (x && typeof x === 'object' && 'op' in x) collectReads(x as ASTNode, into, rows);
  };
  visit(args);
}

/** Parses and type-checks; throws ExpressionError with the library's message (position included). */
export function compile(env: Environment, source: string, kind: 'row' | 'transition'): Compiled {
  let parsed: ReturnType<Environment['parse']>;
  try {
    parsed = env.parse(source);
  } catch (err) {
    throw new ExpressionError((err as Error).message);
  }
  const checked = parsed.check();
  if (!checked.valid) throw new ExpressionError(checked.error?.message ?? 'does not type-check');
  const reads = new Set<string>();
  collectReads(parsed.ast, reads, kind === 'transition');
  return {
    source,
    type: checked.type ?? 'dyn',
    reads,
    evaluate: (vars) => parsed(vars) as unknown,
  };
}

/** CEL ints are bigint: a smallint/integer/date column's JS number becomes one (doubles stay numbers). */
function celValueOf(v: ColumnValue): unknown {
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  if (Array.isArray(v)) return v.map((x) => (typeof x === 'number' && Number.isInteger(x) ? BigInt(x) : x));
  return v;
}

/** A row's values as CEL variables (nullable columns as optionals). */
export function rowVariables(columns: ColumnSpec[], row: Row): Record<string, unknown> {
  const vars: Record<string, unknown> = {};
  for (const c of columns) {
    const v = celValueOf(row[c.name] ?? null);
    vars[c.name] = c.nullable ? (v === null ? Optional.none() : Optional.of(v)) : v;
  }
  return vars;
}

/** A CEL result as the column value of `pgType` (throws when it does not fit). */
export function toColumnValue(result: unknown, pgType: PgType): ColumnValue {
  let v = result;
  if (v instanceof Optional) v = v.hasValue() ? v.value() : null;
  if (v === null || v === undefined) return null;
  switch (pgType) {
    case 'bigint':
    case 'timestamptz':
      if (typeof v === 'bigint') return v;
      break;
    case 'text':
    case 'jsonb':
      if (typeof v === 'string') return v;
      break;
    case 'numeric':
      if (typeof v === 'string' || typeof v === 'bigint') return String(v);
      if (typeof v === 'number' && Number.isFinite(v)) return String(v);
      break;
    case 'boolean':
      if (typeof v === 'boolean') return v;
      break;
    case 'text[]':
      if (Array.isArray(v) && v.every((x) => x === null || typeof x === 'string'))
        return v as (string | null)[];
      break;
    default: {
      const fitted = fitByRepr(v, pgType);
      if (fitted !== undefined) return fitted;
    }
  }
  throw new ExpressionError(`result ${typeof v} does not fit a ${pgType} column`);
}

/** Any other kind, by its domain representation (schemas/types.ts); undefined: does not fit. */
function fitByRepr(v: unknown, pgType: PgType): ColumnValue | undefined {
  const { kind, array } = splitPgType(pgType);
  const repr = PG_TYPES[kind].repr;
  const one = (x: unknown): ScalarValue | null | undefined => {
    if (x === null) return null;
    switch (repr) {
      case 'int':
        if (typeof x === 'bigint' && x >= -(2n ** 31n) && x < 2n ** 31n) return Number(x);
        return undefined;
      case 'long':
        return typeof x === 'bigint' ? x : undefined;
      case 'float':
      case 'double':
        return typeof x === 'number' ? x : undefined;
      case 'string':
        return typeof x === 'string' ? x : undefined;
      case 'boolean':
        return typeof x === 'boolean' ? x : undefined;
      case 'bytes':
        return x instanceof Uint8Array ? Buffer.from(x) : undefined;
      default:
        return repr satisfies never;
    }
  };
  if (!array) {
    const r = one(v);
    return r === undefined ? undefined : r;
  }
  if (!Array.isArray(v)) return undefined;
  const out = v.map(one);
  return out.some((x) => x === undefined) ? undefined : (out as (ScalarValue | null)[]);
}
