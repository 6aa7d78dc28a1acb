// SQL building of the mysql sink (consumers/mysql/sql.ts, types.ts, errors.ts, unique.ts): the
// guard is read before the position columns are overwritten (MySQL assigns left to right), the
// own-key check comes first, values become exact literals, and what MySQL cannot hold is refused
// with its reason.
import mysql from 'mysql2';
import { describe, expect, it } from 'vitest';
import {
  classifyMysqlError,
  mysqlErrorTextWithoutValues,
  uniqueKeyName,
} from '../../../../consumers/mysql/errors.ts';
import {
  createTableSql,
  keyIn,
  multiDeleteSql,
  multiPartialUpdateSql,
  multiUpsertSql,
  partialUpdateSql,
  rowValues,
  truncateSql,
} from '../../../../consumers/mysql/sql.ts';
import type { MysqlTable } from '../../../../consumers/mysql/table.ts';
import {
  UnrepresentableValueError,
  datetime,
  decimalType,
  mysqlColumnType,
  toMysqlValue,
} from '../../../../consumers/mysql/types.ts';
import { uniqueIndexesFromRows, holderPositionsSql } from '../../../../consumers/mysql/unique.ts';
import { MysqlTargetSchema } from '../../../../pipeline/config/mysql.ts';
import { loadContract, type ColumnSpec } from '../../../../schemas/contract.ts';
import { TS_NEG_INFINITY, TS_POS_INFINITY } from '../../../../schemas/values.ts';
import { positionedChanges } from '../../support/events.ts';

const contract = loadContract();
const users: MysqlTable = { table: 'users', columns: contract.columns, keyColumns: ['id'] };
const col = (pgType: ColumnSpec['pgType'], sqlType: string = pgType): ColumnSpec => ({
  name: 'c',
  pgType,
  sqlType,
  nullable: true,
});

/** The ON DUPLICATE KEY UPDATE assignments of a statement, in order, by column. */
function assignments(sql: string): string[] {
  const tail = sql.split('ON DUPLICATE KEY UPDATE ')[1]!;
  return [...tail.matchAll(/(?:^|, )`([^`]+)` = /g)].map((m) => m[1]!);
}

describe('multi-row upsert', () => {
  const ev = positionedChanges();
  const events = [ev('c', 1n, 10n, { bio: 'x' }), ev('u', 2n, 11n, { bio: 'y' })];
  const st = multiUpsertSql(
    users,
    events.map((e) => e.event),
    events.map((e) => rowValues(users.columns, e.event.after!)),
  );

  it('is one statement with a row per event, values as parameters', () => {
    expect(st.sql.match(/\), \(/g)).toHaveLength(1);
    expect(st.values).toHaveLength(2 * (users.columns.length + 3));
    expect(st.values).toContain(10n);
  });

  it('checks the own key first, assigns data, then seq, then lsn last (guard read before overwritten)', () => {
    const order = assignments(st.sql);
    expect(order[0]).toBe('_pgcdc_event_id');
    expect(order.slice(-2)).toEqual(['_pgcdc_seq', '_pgcdc_lsn']);
    expect(order).not.toContain('id');
    expect(st.sql).toContain(
      'IF(`id` <=> VALUES(`id`), IF((`_pgcdc_lsn`, `_pgcdc_seq`) < (VALUES(`_pgcdc_lsn`), VALUES(`_pgcdc_seq`))',
    );
    expect(st.sql).toMatch(/, NULL\), `email` = /);
  });

  it('formats into SQL that keeps 64-bit positions exact and strings escaped', () => {
    const big = positionedChanges()('c', 9_223_372_036_854_775_807n, 18_446_744_073_709_551_615n, {
      bio: "it's \\ 🐘",
    });
    const one = multiUpsertSql(users, [big.event], [rowValues(users.columns, big.event.after!)]);
    const text = mysql.format(one.sql, one.values as mysql.SqlValue[]);
    expect(text).toContain('(9223372036854775807, ');
    expect(text).toContain(', 18446744073709551615, 0, ');
    expect(text).toContain("'it\\'s \\\\ 🐘'");
  });
});

describe('other statements', () => {
  const ev = positionedChanges();
  it('a partial update sets only the carried columns, the position last, guarded in WHERE', () => {
    const e = ev('u', 1n, 20n, { bio: '', city: 'x' }, ['bio']);
    const st = partialUpdateSql(users, e.event, e.key);
    expect(st.sql).not.toContain('`bio` =');
    expect(st.sql).toMatch(
      /`_pgcdc_seq` = \?, `_pgcdc_lsn` = \? WHERE `id` IN \(\?\) AND \(`_pgcdc_lsn`, `_pgcdc_seq`\) < \(\?, \?\)$/,
    );
  });

  it('partial updates of one set of unchanged columns are one UPDATE, each key guarded by its own position', () => {
    const items = [
      ev('u', 1n, 20n, { bio: '', city: 'a' }, ['bio']),
      ev('u', 2n, 21n, { bio: '', city: 'b' }, ['bio']),
    ];
    const st = multiPartialUpdateSql(users, items);
    expect(st.sql.match(/^UPDATE /g)).toHaveLength(1);
    expect(st.sql).not.toContain('`bio` =');
    expect(st.sql).toContain('`city` = CASE WHEN `id` IN (?) THEN ? WHEN `id` IN (?) THEN ? ELSE `city` END');
    // the guard is in WHERE, read before any assignment; the position is set per key
    expect(st.sql).toMatch(
      / WHERE \(`id` IN \(\?\) AND \(`_pgcdc_lsn`, `_pgcdc_seq`\) < \(\?, \?\)\) OR \(`id` IN \(\?\) AND \(`_pgcdc_lsn`, `_pgcdc_seq`\) < \(\?, \?\)\)$/,
    );
    const text = mysql.format(st.sql, st.values as mysql.SqlValue[]);
    expect(text).toContain(
      "`city` = CASE WHEN `id` IN (1) THEN 'a' WHEN `id` IN (2) THEN 'b' ELSE `city` END",
    );
    expect(text).toContain('`_pgcdc_lsn` = CASE WHEN `id` IN (1) THEN 20 WHEN `id` IN (2) THEN 21 ELSE');
    expect(text).toContain(
      "`_pgcdc_event_id` = CASE WHEN `id` IN (1) THEN 'u-1-20' WHEN `id` IN (2) THEN 'u-2-21'",
    );
    expect(text).toMatch(
      /WHERE \(`id` IN \(1\) AND .* < \(20, 0\)\) OR \(`id` IN \(2\) AND .* < \(21, 0\)\)$/,
    );
    // one item: the plain single-row statement
    expect(multiPartialUpdateSql(users, [items[0]!]).sql).toBe(
      partialUpdateSql(users, items[0]!.event, items[0]!.key).sql,
    );
  });

  it('batched partial updates match a composite key as a row', () => {
    const two: MysqlTable = { ...users, keyColumns: ['id', 'email'] };
    const items = [ev('u', 1n, 20n, { bio: '' }, ['bio']), ev('u', 2n, 21n, { bio: '' }, ['bio'])].map(
      (e) => ({ ...e, key: { id: e.key.id!, email: `k${String(e.key.id)}` } }),
    );
    const st = multiPartialUpdateSql(two, items);
    expect(st.sql).toContain('CASE WHEN (`id`, `email`) IN ((?, ?)) THEN ?');
    expect(st.sql).not.toMatch(/`email` = CASE/);
  });

  it('a delete is guarded per key and leaves markers that only move forward', () => {
    const [del, marks] = multiDeleteSql(users, [ev('d', 1n, 30n), ev('d', 2n, 31n)]);
    expect(del!.sql).toBe(
      'DELETE FROM `users` WHERE (`id` IN (?) AND (`_pgcdc_lsn`, `_pgcdc_seq`) < (?, ?)) OR (`id` IN (?) AND (`_pgcdc_lsn`, `_pgcdc_seq`) < (?, ?))',
    );
    expect(del!.values).toEqual([1n, 30n, 0n, 2n, 31n, 0n]);
    expect(assignments(marks!.sql).slice(-2)).toEqual(['_pgcdc_seq', '_pgcdc_lsn']);
  });

  it('a truncate moves the mark, drops older markers and older rows', () => {
    const st = truncateSql(users, ev('t', 0n, 40n).event);
    expect(st.map((s) => s.sql.split(' ').slice(0, 3).join(' '))).toEqual([
      'INSERT INTO `users_pgcdc_truncated`',
      'DELETE FROM `users_pgcdc_deleted`',
      'DELETE FROM `users`',
    ]);
  });

  it('composite keys compare as row constructors', () => {
    const t: MysqlTable = { ...users, keyColumns: ['id', 'email'] };
    const values: unknown[] = [];
    expect(
      keyIn(
        t,
        [
          { id: 1n, email: 'a' },
          { id: 2n, email: 'b' },
        ],
        values,
      ),
    ).toBe('(`id`, `email`) IN ((?, ?), (?, ?))');
    expect(values).toEqual([1n, 'a', 2n, 'b']);
  });

  it('creates utf8mb4 tables with the mapped types and the bookkeeping columns', () => {
    const ddl = createTableSql(users, 'utf8mb4_nopad_bin');
    expect(ddl).toContain('`id` BIGINT NOT NULL');
    expect(ddl).toContain('`preferences` JSON NULL');
    expect(ddl).toContain('`balance` DECIMAL(12,2) NULL');
    expect(ddl).toContain('`created_at` DATETIME(6) NOT NULL');
    expect(ddl).toContain('`_pgcdc_lsn` BIGINT UNSIGNED NOT NULL');
    expect(ddl).toMatch(/DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin$/);
  });
});

describe('types', () => {
  it('maps every contract type', () => {
    expect(mysqlColumnType(col('text'), true)).toBe('VARCHAR(768)');
    expect(mysqlColumnType(col('text'), false)).toBe('LONGTEXT');
    expect(mysqlColumnType(col('text[]'), false)).toBe('JSON');
    expect(mysqlColumnType(col('boolean'), false)).toBe('BOOLEAN');
    expect(decimalType('numeric')).toBe('DECIMAL(65,30)');
    expect(decimalType('numeric(80, 40)')).toBe('DECIMAL(65,30)');
    expect(decimalType('numeric(5)')).toBe('DECIMAL(5,0)');
  });

  it('converts values exactly', () => {
    expect(toMysqlValue(col('boolean'), true)).toBe(1);
    expect(toMysqlValue(col('text[]'), ['a', null, '🐘'])).toBe('["a",null,"🐘"]');
    expect(toMysqlValue(col('numeric'), '-0.010')).toBe('-0.010');
    expect(datetime('c', 1n)).toBe('1970-01-01 00:00:00.000001');
    expect(datetime('c', -30610224000000000n)).toBe('1000-01-01 00:00:00.000000');
    expect(datetime('c', 253402300799999999n)).toBe('9999-12-31 23:59:59.999999');
  });

  it.each([
    [TS_POS_INFINITY, /infinity has no DATETIME value/],
    [TS_NEG_INFINITY, /-infinity has no DATETIME value/],
    [-30610224000000001n, /0999-12-31 23:59:59.999999 UTC is outside DATETIME's range/],
    [253402300800000000n, /10000-01-01 .* is outside DATETIME's range/],
  ])('refuses timestamp %s with its reason', (us, why) => {
    expect(() => datetime('last_login_at', us)).toThrow(UnrepresentableValueError);
    expect(() => datetime('last_login_at', us)).toThrow(why);
  });

  it.each(['NaN', 'Infinity', '-Infinity'])('refuses numeric %s', (v) => {
    expect(() => toMysqlValue(col('numeric'), v)).toThrow(/has no DECIMAL value/);
  });
});

describe('errors', () => {
  const err = (errno: number, sqlMessage = '') => Object.assign(new Error(sqlMessage), { errno, sqlMessage });
  it.each([
    [err(4025, 'CONSTRAINT `x` failed'), 'rejected'],
    [err(3819), 'rejected'],
    [err(1406, "Data too long for column 'username' at row 1"), 'rejected'],
    [err(1292), 'rejected'],
    [err(1048, "Column '_pgcdc_event_id' cannot be null"), 'secondary-unique'],
    [err(1048, "Column 'username' cannot be null"), 'rejected'],
    [err(1062, "Duplicate entry 'a@x.io' for key 'users.email_u'"), 'secondary-unique'],
    [err(1062, "Duplicate entry '1' for key 'PRIMARY'"), 'transient'],
    [err(1213), 'transient'],
    [err(1205), 'transient'],
    [err(2013), 'transient'],
    [Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), 'transient'],
    [err(1146), 'blocking'],
    [err(1142), 'blocking'],
  ])('%s is %s', (e, kind) => {
    expect(classifyMysqlError(e)).toBe(kind);
  });

  it('names the key of a duplicate (MySQL 8 qualifies it) and keeps values out of the public text', () => {
    const e = Object.assign(err(1062, "Duplicate entry 'a@x.io' for key 'users.email_u'"), {
      sqlState: '23000',
    });
    expect(uniqueKeyName(e)).toBe('email_u');
    expect(mysqlErrorTextWithoutValues(e)).toBe(
      "Duplicate entry '…' for key 'users.email_u' (errno 1062, SQLSTATE 23000)",
    );
  });
});

describe('unique keys', () => {
  it('keeps column indexes and leaves out those with an expression part', () => {
    const idx = uniqueIndexesFromRows([
      { name: 'a', col: 'email' },
      { name: 'b', col: 'zip' },
      { name: 'b', col: 'city' },
      { name: 'f', col: null },
    ]);
    expect([...idx.entries()]).toEqual([
      ['a', ['email']],
      ['b', ['zip', 'city']],
    ]);
  });

  it('looks up the holders of the row values, never the row itself; a NULL part never collides', () => {
    const st = holderPositionsSql(
      users,
      [['email'], ['zip', 'city']],
      { email: 'a@x.io', zip: null },
      { id: 1n },
    );
    expect(st?.sql).toBe(
      'SELECT `_pgcdc_lsn` AS lsn, `_pgcdc_seq` AS seq FROM `users` WHERE ((`email` = ?)) AND NOT (`id` <=> ?)',
    );
    expect(st?.values).toEqual(['a@x.io', 1n]);
  });
});

describe('config', () => {
  it('takes a mysql target with its defaults', () => {
    const t = MysqlTargetSchema.parse({ name: 'maria', type: 'mysql', url: 'mysql://u:p@h:3306/db' });
    expect(t).toMatchObject({ table: 'users', batchSize: 500, createTable: true, onTruncate: 'truncate' });
  });
  it.each(['postgres://h/db', 'mysql://h:3306', 'mysql://h/db name'])('refuses url %s', (url) => {
    expect(() => MysqlTargetSchema.parse({ name: 'm', type: 'mysql', url })).toThrow(
      /mysql:\/\/user:password@host/,
    );
  });
});
