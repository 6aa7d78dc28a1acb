// `reconcile --repair` at a matched target (mapping.match): a row revived by hand after its source
// row was deleted. The matched sink soft-deleted it and marked its link deleted (keeping the target
// key); someone then made it live again. The sink's delete leaves such a row (its link says deleted
// already), so repair removes it here by the delete policy (soft: the mark set again; delete: the
// row deleted), owned rows only: only the row a deleted link of one of these source keys names.
// One short transaction per target: the links are locked first (FOR UPDATE), as the sink locks a
// link before its row, so an event of the same key that makes the link live again either commits
// first (its row is then not touched here) or waits for this transaction and revives the row after.
import type pg from 'pg';
import type { Connection, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { DELETED, LINKS_SUFFIX, TARGET_KEY } from '../../consumers/postgres/matched.ts';
import type { ReconcileDeps } from './deps.ts';
import type { ReadableTarget, TablePlan } from './plan.ts';
import { keyExpr, keyParams, removedSql, withMysqlTarget } from './mysql.ts';
import { withReconcileClient } from './postgres.ts';
import { keyPartsOf } from './rows.ts';

const pq = (id: string) => `"${id.replace(/"/g, '""')}"`;
const mq = (id: string) => `\`${id.replace(/`/g, '``')}\``;

async function removeAtPostgres(c: pg.Client, plan: TablePlan, keys: string[]): Promise<number> {
  const m = plan.shape.match!;
  const links = `${pq(plan.at.schema)}.${pq(plan.at.table + LINKS_SUFFIX)}`;
  const target = `${pq(plan.at.schema)}.${pq(plan.at.table)}`;
  const keyText = plan.key.map((k) => `x.${pq(k.target)}::text`).join(', ');
  await c.query('BEGIN');
  try {
    const found = await c.query<{ tk: string }>(
      `SELECT x.${pq(TARGET_KEY)} AS tk FROM ${links} AS x WHERE jsonb_build_array(${keyText}) IN ` +
        `(SELECT jsonb_array_elements($1::jsonb)) AND x.${pq(DELETED)} AND x.${pq(TARGET_KEY)} IS NOT NULL FOR UPDATE`,
      [JSON.stringify(keys.map((k) => keyPartsOf(plan, k)))],
    );
    const tks = found.rows.map((r) => r.tk);
    const sd = plan.softDelete;
    const where = `t.${pq(m.targetKey)}::text = ANY($1::text[])`;
    const r =
      tks.length === 0
        ? { rowCount: 0 }
        : sd
          ? await c.query(
              `UPDATE ${target} AS t SET ${pq(sd.column)} = ${sd.type === 'boolean' ? 'true' : 'now()'} WHERE ${where} AND ` +
                (sd.type === 'boolean' ? `t.${pq(sd.column)} IS NOT TRUE` : `t.${pq(sd.column)} IS NULL`),
              [tks],
            )
          : await c.query(`DELETE FROM ${target} AS t WHERE ${where}`, [tks]);
    await c.query('COMMIT');
    return r.rowCount ?? 0;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

async function removeAtMysql(c: Connection, plan: TablePlan, keys: string[]): Promise<number> {
  const m = plan.shape.match!;
  const values: unknown[] = [];
  const list = keys.map((k) => keyParams(plan, keyPartsOf(plan, k), values)).join(', ');
  await c.query('BEGIN');
  try {
    const [found] = await c.query<RowDataPacket[]>({
      sql:
        `SELECT CAST(x.${mq(TARGET_KEY)} AS CHAR) AS tk FROM ${mq(plan.at.table + LINKS_SUFFIX)} AS x ` +
        `WHERE ${keyExpr(plan)} IN (${list}) AND x.${mq(DELETED)} AND x.${mq(TARGET_KEY)} IS NOT NULL FOR UPDATE`,
      values,
    });
    const tks = found.map((r) => String(r.tk));
    let removed = 0;
    if (tks.length > 0) {
      const sd = plan.softDelete;
      // removedSql reads alias t at a matched target: the row is live (not yet soft-deleted)
      const where = `t.${mq(m.targetKey)} IN (?) AND NOT ${removedSql(plan)}`;
      const sql = sd
        ? `UPDATE ${mq(plan.at.table)} AS t SET t.${mq(sd.column)} = ${sd.type === 'boolean' ? 'TRUE' : 'UTC_TIMESTAMP(6)'} WHERE ${where}`
        : `DELETE t FROM ${mq(plan.at.table)} AS t WHERE ${where}`;
      const [r] = await c.query<ResultSetHeader>({ sql, values: [tks] });
      removed = r.affectedRows;
    }
    await c.query('COMMIT');
    return removed;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** Rows of these source keys live again behind a deleted link, removed by the delete policy; how many. */
export async function removeRevived(
  deps: ReconcileDeps,
  target: ReadableTarget,
  plan: TablePlan,
  keys: string[],
): Promise<number> {
  if (keys.length === 0 || !plan.shape.match) return 0;
  switch (target.type) {
    case 'postgres':
      return withReconcileClient(deps.pg, target.url, (c) => removeAtPostgres(c, plan, keys));
    case 'mysql':
      return withMysqlTarget(target, deps.config.connections.connectTimeoutMs, (c) =>
        removeAtMysql(c, plan, keys),
      );
    default:
      return target satisfies never;
  }
}
