// The MySQL SQL of matched and soft-deleting targets (consumers/mysql/match.ts, soft.ts), pure:
// ON DUPLICATE KEY UPDATE of a link checks its own source key first and assigns the position
// columns last (seq, then lsn), as MySQL evaluates the assignments left to right; the table
// problems a matched target is refused for (no AUTO_INCREMENT key, a collation that does not fit
// caseInsensitive); the soft delete's guard and mark.
import { describe, expect, it } from 'vitest';
import {
  matchedMysqlTableOf,
  matchTableProblem,
  truncateMatchedSql,
  upsertLinkSql,
} from '../../../../consumers/mysql/match.ts';
import { softDeleteSql } from '../../../../consumers/mysql/soft.ts';
import { loadContract } from '../../../../schemas/contract.ts';
import { positionedChanges } from '../../support/events.ts';
import { shapeOf } from './support.ts';

const mapping = {
  include: ['email', 'username'],
  match: { column: 'email', caseInsensitive: true, targetKey: 'uid' },
  deletePolicy: 'soft',
  softDelete: { column: 'deleted', type: 'boolean' },
};
const table = matchedMysqlTableOf({ table: 'fe_users' }, shapeOf(mapping));
const pos = { lsn: 20n, seq: 3n, eventId: 'e' };

describe('matched MySQL SQL', () => {
  it('a link upsert checks its own key first and moves the position last, seq before lsn', () => {
    const s = upsertLinkSql(table, { id: 7n }, { targetKey: '3', deleted: false }, pos);
    const sets = [...s.sql.split('ON DUPLICATE KEY UPDATE ')[1]!.matchAll(/(`\w+`) = IF\(/g)].map(
      (m) => m[1],
    );
    expect(sets).toEqual([
      '`_pgcdc_event_id`',
      '`_pgcdc_target_key`',
      '`_pgcdc_deleted`',
      '`_pgcdc_synced_at`',
      '`_pgcdc_seq`',
      '`_pgcdc_lsn`',
    ]);
    expect(s.sql).toContain('IF(`id` <=> VALUES(`id`), IF(');
    expect(s.values).toEqual([7n, '3', 0, 20n, 3n, 'e']);
  });

  it('a truncate soft-deletes linked rows older than it, then moves their links', () => {
    const [remove, links] = truncateMatchedSql(table, pos, 0n);
    expect(remove!.sql).toMatch(
      /^UPDATE `fe_users` AS t JOIN `fe_users_pgcdc_links` AS l .* SET t.`deleted` = \?/,
    );
    expect(remove!.values).toEqual([1, 20n, 3n]);
    expect(links!.sql).toContain('`_pgcdc_target_key` = `_pgcdc_target_key`'); // soft: the row is kept
  });

  it('refuses a table without an AUTO_INCREMENT key or with a collation that does not fit', () => {
    const key = { name: 'uid', collation: null, extra: 'auto_increment', key: 'PRI' };
    const email = (collation: string) => ({ name: 'email', collation, extra: '', key: 'UNI' });
    expect(matchTableProblem(table, [key, email('utf8mb4_unicode_ci')])).toBeUndefined();
    expect(matchTableProblem(table, [{ ...key, extra: '' }, email('utf8mb4_unicode_ci')])).toMatch(
      /uid is not the AUTO_INCREMENT primary key of fe_users/,
    );
    expect(matchTableProblem(table, [key, email('utf8mb4_bin')])).toMatch(
      /caseInsensitive needs a case-insensitive collation on email \(it is utf8mb4_bin\)/,
    );
    const exact = { ...table, match: { column: 'email', caseInsensitive: false } };
    expect(matchTableProblem(exact, [key, email('utf8mb4_bin')])).toBeUndefined();
    expect(matchTableProblem(exact, [key, email('utf8mb4_general_ci')])).toMatch(
      /case-insensitive collation/,
    );
  });
});

describe('id-keyed MySQL soft delete', () => {
  it('marks the row under the position guard and leaves the delete marker', () => {
    const c = loadContract();
    const t = { table: 'users', columns: c.columns, keyColumns: c.keyColumns };
    const e = positionedChanges()('d', 5n, 40n);
    const [mark, marker] = softDeleteSql(t, { column: 'deleted_at', type: 'timestamptz' }, e);
    expect(mark!.sql).toBe(
      'UPDATE `users` SET `deleted_at` = ?, `_pgcdc_event_id` = ?, `_pgcdc_synced_at` = CURRENT_TIMESTAMP(6), `_pgcdc_seq` = ?, `_pgcdc_lsn` = ? WHERE `id` IN (?) AND (`_pgcdc_lsn`, `_pgcdc_seq`) < (?, ?)',
    );
    expect(mark!.values).toEqual(['1970-01-01 00:00:00.000000', 'd-5-40', 0n, 40n, 5n, 40n, 0n]);
    expect(marker!.sql).toMatch(/^INSERT INTO `users_pgcdc_deleted`/);
  });
});
