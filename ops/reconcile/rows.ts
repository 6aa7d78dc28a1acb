// Row-level comparison for reconcile, pure: a source row (PostgreSQL text output per contract
// column) becomes the row the target should hold through the target's shape (the sink's own
// mapRow and filter, consumers/mapping/map.ts), a target row is decoded by its columns' types, and
// both are compared value by value in one canonical form per type, so the same value read from two
// servers (or computed by CEL) compares equal however each prints it.
import { mapRow, matches } from '../../consumers/mapping/map.ts';
import { rowValues } from '../../consumers/mysql/sql.ts';
import type { ColumnValue, PgType, Row } from '../../schemas/contract.ts';
import { decodeColumn, decodePgText } from '../../schemas/values.ts';
import type { TablePlan } from './plan.ts';

/** Text output per column, null for SQL NULL. */
export type RawRow = (string | null)[];

/** The key as reconcile names it: the key column's text, or a JSON array of a composite key's. */
export const keyTextOf = (parts: readonly (string | null)[]): string =>
  parts.length === 1 ? String(parts[0]) : JSON.stringify(parts);

/** keyTextOf's inverse. */
export function keyPartsOf(plan: TablePlan, key: string): string[] {
  if (plan.key.length === 1) return [key];
  return JSON.parse(key) as string[];
}

/** What the target should hold for a source row: its mapped row, null (outside the filter) or 'unmappable'. */
export type Expected = Row | null | 'unmappable';

/** A source row read in contract column order -> its key and what the target should hold. */
export function expectedOf(plan: TablePlan, raw: RawRow): { key: string; expected: Expected } {
  const after: Row = {};
  plan.contract.columns.forEach((c, i) => {
    const text = raw[i];
    after[c.name] = text === null || text === undefined ? null : decodeColumn(c, text);
  });
  const idx = plan.key.map((k) => plan.contract.columns.findIndex((c) => c.name === k.source));
  const key = keyTextOf(idx.map((i) => raw[i] ?? null));
  try {
    if (matches(plan.shape, after) !== true) return { key, expected: null };
    const row = mapRow(plan.shape, after, []).row;
    // a value MySQL cannot hold: the sink dead-letters the row (UnrepresentableValueError)
    if (plan.kind === 'mysql') rowValues(plan.columns, row);
    return { key, expected: row };
  } catch {
    // the sink dead-letters such a row (mapping-error, or a value the target cannot hold): it
    // cannot be said what the target holds
    return { key, expected: 'unmappable' };
  }
}

/** A target row read as: key columns, compared columns (plan.columns order), removed flag, position. */
export interface TargetRow {
  key: string;
  row: Row;
  /** soft-deleted at the target: the row is absent as far as the source is concerned */
  removed: boolean;
  /** pgcdc wrote it (it carries a source position) */
  owned: boolean;
  /** the source commit position of the change that wrote it (`_pgcdc_lsn`); null: a foreign row */
  position: bigint | null;
}

/**
 * A target row from its texts (key columns, then plan.columns) and its `_pgcdc_lsn` (text or
 * number as the server returns it; null for a row pgcdc did not write).
 */
export function targetRowOf(
  plan: TablePlan,
  raw: RawRow,
  removed: boolean,
  position: string | number | bigint | null,
): TargetRow {
  const n = plan.key.length;
  const row: Row = {};
  plan.columns.forEach((c, i) => {
    const text = raw[n + i];
    row[c.name] = text === null || text === undefined ? null : decodePgText(c.pgType, text);
  });
  const pos = position === null ? null : BigInt(position);
  return { key: keyTextOf(raw.slice(0, n)), row, removed, owned: pos !== null, position: pos };
}

/** JSON with its object keys sorted: jsonb prints keys in its own order, CEL in another. */
function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}

function scalarCanonical(kind: string, v: unknown): string {
  if (Buffer.isBuffer(v)) return `x${v.toString('hex')}`;
  switch (kind) {
    case 'numeric': {
      const s = String(v);
      return /^-?\d+\.\d*$/.test(s) ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
    }
    case 'json':
    case 'jsonb':
      try {
        return stableJson(JSON.parse(String(v)));
      } catch {
        return String(v);
      }
    default:
      return typeof v === 'string' ? v : String(v);
  }
}

/** One value in the form both sides are compared in; null stays null. */
export function canonical(pgType: PgType, v: ColumnValue | undefined): string | null {
  if (v === null || v === undefined) return null;
  const kind = pgType.replace(/\[\]$/, '');
  if (Array.isArray(v)) return JSON.stringify(v.map((x) => (x === null ? null : scalarCanonical(kind, x))));
  return scalarCanonical(kind, v);
}

/** The compared columns whose values differ. */
export function differingColumns(plan: TablePlan, expected: Row, actual: Row): string[] {
  return plan.columns
    .filter((c) => canonical(c.pgType, expected[c.name]) !== canonical(c.pgType, actual[c.name]))
    .map((c) => c.name);
}

export interface RowDiff {
  compared: number;
  missing: string[];
  extra: { key: string; owned: boolean }[];
  differing: { key: string; columns: string[] }[];
  /** source rows the mapping cannot map (the sink dead-letters them) */
  unmappable: string[];
}

export const emptyDiff = (): RowDiff => ({
  compared: 0,
  missing: [],
  extra: [],
  differing: [],
  unmappable: [],
});

/**
 * Compares one key range: `expected` holds every source key of the range, `targets` every target
 * row of it (in pages; call `finish` after the last). Memory: the source rows of one chunk.
 */
export function rangeComparison(plan: TablePlan, expected: Map<string, Expected>) {
  const diff = emptyDiff();
  const seen = new Set<string>();
  return {
    diff,
    target(t: TargetRow): void {
      const e = expected.get(t.key);
      if (e === 'unmappable') return;
      if (e === undefined || e === null) {
        if (!t.removed && plan.extrasAreDrift) diff.extra.push({ key: t.key, owned: t.owned });
        return;
      }
      if (t.removed) return; // counted missing below
      seen.add(t.key);
      const columns = differingColumns(plan, e, t.row);
      if (columns.length > 0) diff.differing.push({ key: t.key, columns });
    },
    finish(): RowDiff {
      for (const [key, e] of expected) {
        if (e === 'unmappable') diff.unmappable.push(key);
        else if (e !== null) {
          diff.compared++;
          if (!seen.has(key)) diff.missing.push(key);
        }
      }
      return diff;
    },
  };
}
