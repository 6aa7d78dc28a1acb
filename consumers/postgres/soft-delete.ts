// Soft deletes at a PostgreSQL target (`mapping.deletePolicy: soft`): a source delete, or a row
// leaving the target's filter, marks the row instead of removing it: its soft-delete column is set
// (timestamptz: the source commit time, so a replay writes the same value; boolean: true), with
// the delete's position, under the same position guard as every write. The row keeps its columns,
// so a later insert or update of the key (the mapping sends the column as null / false) revives it
// in place. Only rows pgcdc wrote carry a position; a row the target system made itself (no
// position) fails the guard and is never marked. The delete's marker is left as for a hard delete
// (deleted.ts): an older change redriven or replayed later does not bring a row back that the
// target never held.
import type { ChangeEvent, Row } from '../../schemas/contract.ts';
import { formatTimestamptz, toSqlParam } from '../../schemas/values.ts';
import { insertMarkersSql } from './deleted.ts';
import type { Statement } from './sql.ts';
import {
  EVENT_ID,
  POS_LSN,
  POS_SEQ,
  SYNCED_AT,
  columnSpec,
  qname,
  quoteIdent,
  type TargetTable,
} from './table.ts';

export interface SoftDelete {
  column: string;
  type: 'timestamptz' | 'boolean';
}

export function softDeleteSql(t: TargetTable, soft: SoftDelete, e: ChangeEvent, key: Row): Statement {
  const values: unknown[] = [];
  const where = t.keyColumns
    .map((k) => {
      values.push(toSqlParam(columnSpec(t, k).pgType, key[k] ?? null));
      return `t.${quoteIdent(k)} = $${values.length}`;
    })
    .join(' AND ');
  values.push(e.source.commit_lsn.toString(), e.source.seq.toString(), e.event_id);
  const n = values.length;
  values.push(soft.type === 'boolean' ? true : formatTimestamptz(e.source.ts_us));
  const mark = `$${n + 1}::${soft.type}`;
  const keyTypes = t.keyColumns.map((k, i) => `$${i + 1}::${columnSpec(t, k).sqlType}`);
  const cols = [...t.keyColumns, POS_LSN, POS_SEQ, EVENT_ID].map(quoteIdent).join(', ');
  const marker = `(VALUES (${[...keyTypes, `$${n - 2}::bigint`, `$${n - 1}::bigint`, `$${n}::text`].join(', ')})) AS s (${cols})`;
  const sets = [
    `${quoteIdent(soft.column)} = ${mark}`,
    `${quoteIdent(POS_LSN)} = $${n - 2}::bigint`,
    `${quoteIdent(POS_SEQ)} = $${n - 1}::bigint`,
    `${quoteIdent(EVENT_ID)} = $${n}::text`,
    `${quoteIdent(SYNCED_AT)} = clock_timestamp()`,
  ];
  return {
    text:
      `WITH upd AS (UPDATE ${qname(t)} AS t SET ${sets.join(', ')} WHERE ${where} AND ` +
      `(t.${quoteIdent(POS_LSN)}, t.${quoteIdent(POS_SEQ)}) < ($${n - 2}::bigint, $${n - 1}::bigint)) ` +
      insertMarkersSql(t, marker),
    values,
  };
}
