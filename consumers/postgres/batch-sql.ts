// A collapsed partition batch (sql.ts collapseBatch: one change per key) as ONE statement for the
// PostgreSQL sink: the multi-row upsert, the partial updates (one per set of unchanged columns) and
// the guarded delete with its markers, as data-modifying CTEs of one statement, so the batch costs
// one round trip and, run outside a transaction block, is still one target transaction. Every row
// keeps its position guard, delete marker and truncate mark checks (the same SQL as the separate
// statements, sql.ts). The keys are distinct (collapsed), so no two parts touch the same row or
// marker, and the order in which PostgreSQL runs the parts does not matter; where it would (a
// secondary unique value handed from one key to another inside the batch) the statement fails as
// a whole and the sink replays the batch event by event. Pure.
import type { ChangeEvent, Row } from '../../schemas/contract.ts';
import { insertMarkersSql } from './deleted.ts';
import {
  multiDeleteParts,
  multiDeleteSql,
  multiPartialUpdateSql,
  multiUpsertSql,
  type Statement,
} from './sql.ts';

export interface BatchParts {
  /** full rows of distinct keys */
  upserts: ChangeEvent[];
  /** partial updates, each group leaving the same columns unchanged */
  partialGroups: ChangeEvent[][];
  /** deletes (single-column keys) */
  deletes: { key: Row; event: ChangeEvent }[];
}

/**
 * The batch as one statement. Its result rows (one column, named as the key column, text) are the
 * keys the partial updates updated; a partial update's key missing there was newer at the target, or missing (for the
 * caller to tell apart). One part alone is that part's own statement (sql.ts).
 */
export function batchSql(t: Parameters<typeof multiUpsertSql>[0], b: BatchParts): Statement {
  const parts = (b.upserts.length > 0 ? 1 : 0) + b.partialGroups.length + (b.deletes.length > 0 ? 1 : 0);
  if (parts === 1 && b.upserts.length > 0) return multiUpsertSql(t, b.upserts);
  if (parts === 1 && b.deletes.length > 0) return multiDeleteSql(t, b.deletes);
  if (parts === 1) return multiPartialUpdateSql(t, b.partialGroups[0]!);
  const ctes: string[] = [];
  const values: unknown[] = [];
  if (b.upserts.length > 0) {
    const up = multiUpsertSql(t, b.upserts, values.length);
    ctes.push(`pgcdc_up AS (${up.text})`);
    values.push(...up.values);
  }
  if (b.deletes.length > 0) {
    const d = multiDeleteParts(t, b.deletes, values.length);
    ctes.push(
      `pgcdc_gone AS (${d.source})`,
      `pgcdc_del AS (${d.del('pgcdc_gone')})`,
      `pgcdc_marks AS (${insertMarkersSql(t, 'pgcdc_gone AS s')})`,
    );
    values.push(...d.values);
  }
  const updated: string[] = [];
  for (const group of b.partialGroups) {
    const p = multiPartialUpdateSql(t, group, values.length);
    const name = `pgcdc_part${updated.length}`;
    ctes.push(`${name} AS (${p.text})`);
    updated.push(`SELECT * FROM ${name}`);
    values.push(...p.values);
  }
  // the parts nobody reads run to completion all the same (PostgreSQL runs every data-modifying CTE)
  const main = updated.length > 0 ? updated.join(' UNION ALL ') : 'SELECT NULL::text WHERE false';
  return { text: `WITH ${ctes.join(', ')} ${main}`, values };
}

const NEEDS_ESCAPE = /["\\]/;

/**
 * A one-dimensional array parameter (the set-based statements' unnest arrays: strings, booleans,
 * nulls) as the array literal node-postgres would send for it, every element quoted, built in one
 * pass: a quote or backslash escaped only in the elements that have one. Anything else (a nested
 * array, a Buffer) is left to node-postgres (undefined).
 */
export function arrayParam(items: readonly unknown[]): string | undefined {
  let out = '{';
  for (let i = 0; i < items.length; i++) {
    const v = items[i];
    if (i > 0) out += ',';
    if (v === null || v === undefined) out += 'NULL';
    else if (typeof v === 'string')
      out += NEEDS_ESCAPE.test(v) ? `"${v.replace(/["\\]/g, '\\$&')}"` : `"${v}"`;
    else if (typeof v === 'boolean' || typeof v === 'number' || typeof v === 'bigint')
      out += `"${String(v)}"`;
    else return undefined;
  }
  return `${out}}`;
}
