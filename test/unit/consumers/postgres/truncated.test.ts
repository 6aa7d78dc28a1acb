// consumers/postgres/truncated.ts: a truncate is applied by position, so it commutes with the
// row events of other partitions: rows older than it go, its mark keeps older events out.
import { describe, expect, it } from 'vitest';
import {
  applySql,
  deletedLaterSql,
  existingKeysSql,
  multiUpsertSql,
} from '../../../../consumers/postgres/sql.ts';
import {
  createTruncatedTableSql,
  notTruncatedLater,
  truncateSql,
} from '../../../../consumers/postgres/truncated.ts';
import { loadContract } from '../../../../schemas/contract.ts';
import { changeEvent } from '../../support/events.ts';

const contract = loadContract();
const table = {
  schema: 'we"ird',
  table: 'users',
  columns: contract.columns,
  keyColumns: contract.keyColumns,
};
const t = changeEvent({ op: 't', event_id: '0/3000100:2', source: { commit_lsn: 0x3000100n, seq: 2n } });

describe('truncate of a PostgreSQL target', () => {
  it('removes only the rows older than its position, with parameters only', () => {
    const s = truncateSql(table, t);
    expect(s.values).toEqual([String(0x3000100n), '2', '0/3000100:2']);
    expect(s.text).toMatch(
      /DELETE FROM "we""ird"\."users" AS t WHERE \(t\."_pgcdc_lsn", t\."_pgcdc_seq"\) < \(\$1::bigint, \$2::bigint\)$/,
    );
    expect(applySql(table, t, {})).toEqual(s);
  });

  it('moves the mark forward only, and drops the delete markers older than it, in the same statement', () => {
    const { text } = truncateSql(table, t);
    expect(text).toContain('INSERT INTO "we""ird"."users_pgcdc_truncated" AS m ');
    expect(text).toContain(
      'WHERE (m."_pgcdc_lsn", m."_pgcdc_seq") < (EXCLUDED."_pgcdc_lsn", EXCLUDED."_pgcdc_seq")',
    );
    expect(text).toContain(
      'DELETE FROM "we""ird"."users_pgcdc_deleted" AS d WHERE (d."_pgcdc_lsn", d."_pgcdc_seq") < ($1::bigint, $2::bigint)',
    );
  });

  it('the mark table holds one row per target table', () => {
    const ddl = createTruncatedTableSql(table);
    expect(ddl).toContain('CREATE TABLE IF NOT EXISTS "we""ird"."users_pgcdc_truncated"');
    expect(ddl).toContain('"_pgcdc_table" boolean PRIMARY KEY DEFAULT true CHECK ("_pgcdc_table")');
  });

  it('every insert respects the mark; a superseded partial update is not a missing row', () => {
    const guard = notTruncatedLater(table, 'u');
    expect(guard).toBe(
      'NOT EXISTS (SELECT 1 FROM "we""ird"."users_pgcdc_truncated" AS tr WHERE (tr."_pgcdc_lsn", tr."_pgcdc_seq") >= (u."_pgcdc_lsn", u."_pgcdc_seq"))',
    );
    const row = changeEvent({ op: 'c', after: { id: 1n } });
    expect(multiUpsertSql(table, [row]).text).toContain(guard);
    expect(deletedLaterSql(table, { id: 1n }, row).text).toContain('"users_pgcdc_truncated"');
    expect(existingKeysSql(table, [{ key: { id: 1n }, event: row }]).text).toContain(
      '"users_pgcdc_truncated"',
    );
  });
});
