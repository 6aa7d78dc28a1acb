// Soft deletes at an id-keyed MySQL/MariaDB target (`mapping.deletePolicy: soft`), the twin of
// consumers/postgres/soft-delete.ts: a source delete, or a row leaving the target's filter, marks
// the row instead of removing it: its soft-delete column is set (timestamptz: the source commit
// time as DATETIME(6) UTC, so a replay writes the same value; boolean: true), with the delete's
// position, under the same position guard as every write. The row keeps its columns, so a later
// insert or update of the key (the mapping sends the column as null / false) revives it in place.
// The delete's marker is written as for a hard delete (sql.ts multiDeleteSql): an older change
// redriven or replayed later does not bring back a row the target never held. Pure.
import type { ChangeEvent, Row } from '../../schemas/contract.ts';
import { keyIn, multiDeleteSql, type Statement } from './sql.ts';
import { EVENT_ID, POS_LSN, POS_SEQ, SYNCED_AT, q, type MysqlTable } from './table.ts';
import { datetime } from './types.ts';

export interface SoftDelete {
  column: string;
  type: 'timestamptz' | 'boolean';
}

/**
 * The soft delete of one key: the guarded mark (a single-table UPDATE reads its WHERE, the guard,
 * before any assignment), then the delete marker.
 */
export function softDeleteSql(
  t: MysqlTable,
  soft: SoftDelete,
  item: { key: Row; event: ChangeEvent },
): Statement[] {
  const e = item.event;
  const mark = soft.type === 'boolean' ? 1 : datetime(soft.column, e.source.ts_us);
  const values: unknown[] = [mark, e.event_id, e.source.seq, e.source.commit_lsn];
  const where = keyIn(t, [item.key], values);
  values.push(e.source.commit_lsn, e.source.seq);
  const sets = [
    `${q(soft.column)} = ?`,
    `${q(EVENT_ID)} = ?`,
    `${q(SYNCED_AT)} = CURRENT_TIMESTAMP(6)`,
    `${q(POS_SEQ)} = ?`,
    `${q(POS_LSN)} = ?`,
  ];
  return [
    {
      sql: `UPDATE ${q(t.table)} SET ${sets.join(', ')} WHERE ${where} AND (${q(POS_LSN)}, ${q(POS_SEQ)}) < (?, ?)`,
      values,
    },
    multiDeleteSql(t, [item])[1]!,
  ];
}
