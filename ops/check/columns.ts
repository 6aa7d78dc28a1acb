// Compares a table's columns (as PostgreSQL reports them) with the contract's: a missing column or
// a different type is a mismatch. Pure; used for the source table and for postgres targets.
import type { ColumnSpec } from '../../schemas/contract.ts';
import { parseSqlType } from '../../schemas/types.ts';

export interface PgColumn {
  name: string;
  /** format_type(atttypid, atttypmod), e.g. "timestamp with time zone", "numeric(12,2)" */
  type: string;
  notNull: boolean;
  hasDefault: boolean;
}

const ALIASES: Record<string, string> = {
  timestamptz: 'timestamp with time zone',
  int8: 'bigint',
  bool: 'boolean',
  'text []': 'text[]',
};

export function normalizeType(t: string): string {
  const s = t.trim().toLowerCase().replace(/\s+/g, ' ');
  return ALIASES[s] ?? s;
}

/** The same type, however spelled: `timestamptz` is `timestamp with time zone`, `varchar(9)` is `character varying(9)`. */
export function sameSqlType(actual: string, spec: Pick<ColumnSpec, 'sqlType' | 'enumSymbols'>): boolean {
  if (normalizeType(actual) === normalizeType(spec.sqlType)) return true;
  if (spec.enumSymbols) return false; // an enum by its name only
  try {
    const a = parseSqlType(actual);
    const b = parseSqlType(spec.sqlType);
    return a.kind === b.kind && a.array === b.array && a.typmod.join(',') === b.typmod.join(',');
  } catch {
    return false;
  }
}

export interface ColumnMismatch {
  missing: ColumnSpec[];
  wrongType: { name: string; actual: string; expected: string }[];
  /** nullable in the contract, NOT NULL in the table: NULLs would be rejected */
  stricter: string[];
  /** columns outside the contract */
  extra: PgColumn[];
}

export function compareColumns(actual: PgColumn[], contract: ColumnSpec[]): ColumnMismatch {
  const byName = new Map(actual.map((c) => [c.name, c]));
  const names = new Set(contract.map((c) => c.name));
  const out: ColumnMismatch = { missing: [], wrongType: [], stricter: [], extra: [] };
  for (const spec of contract) {
    const col = byName.get(spec.name);
    if (!col) {
      out.missing.push(spec);
      continue;
    }
    if (!sameSqlType(col.type, spec))
      out.wrongType.push({ name: spec.name, actual: col.type, expected: spec.sqlType });
    if (spec.nullable && col.notNull) out.stricter.push(spec.name);
  }
  for (const col of actual) if (!names.has(col.name)) out.extra.push(col);
  return out;
}

export const COLUMNS_SQL = `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
       a.attnotnull AS "notNull", a.atthasdef AS "hasDefault"
  FROM pg_attribute a
 WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY a.attnum`;

/**
 * The problem of a matched target whose match column is NOT NULL: the matched rules write an event
 * without its match value (NULL) while a row written from a later position holds it, and give a
 * value up by setting it to NULL (docs/shaping.md, "The matched rules"); a NOT NULL column would
 * reject those writes, dead-lettering the events.
 */
export function matchColumnNotNull(table: string, column: string): string {
  return `the match column ${column} at ${table} is NOT NULL: a row gives its value up (and an event whose value a later-written row still holds is written) with ${column} NULL, which the table would reject (dead letters)`;
}
