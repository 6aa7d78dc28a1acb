// Reconcile against a MySQL/MariaDB target, pure part: every value as mysql2 returns it (DECIMAL
// padded to its scale, TINYINT 0/1, DATETIME(6) in UTC, JSON with its own key order and spacing,
// arrays as JSON, BLOBs as bytes) compares equal to the mapped source row it was written from, a
// real difference still shows, keys print as PostgreSQL prints them, and a source row with a value
// MySQL cannot hold counts as unmappable (the sink dead-letters it), not as missing.
import { describe, expect, it } from 'vitest';
import { MysqlTargetSchema } from '../../../../pipeline/config/mysql.ts';
import { loadContract } from '../../../../schemas/contract.ts';
import { planTable } from '../../../../ops/reconcile/plan.ts';
import { domainOfMysql, keyTextOfMysql, mysqlKeyParam } from '../../../../ops/reconcile/mysql-values.ts';
import { differingColumns, expectedOf, type RawRow } from '../../../../ops/reconcile/rows.ts';
import type { Row } from '../../../../schemas/contract.ts';

const contract = loadContract();
const target = MysqlTargetSchema.parse({ name: 'my', type: 'mysql', url: 'mysql://u:p@h:3306/db' });
const plan = planTable(contract, target, { schema: 'public', table: 'users' });

function sourceRaw(over: Record<string, string | null> = {}): RawRow {
  const base: Record<string, string | null> = {
    id: '9007199254740993',
    email: 'ada@x.io',
    username: 'ada 🐘',
    is_active: 't',
    is_blocked: 'f',
    preferences: '{"b": 1, "a": [1, 2]}',
    tags: '{x,NULL,"y z"}',
    balance: '12.50',
    created_at: '2026-01-02 03:04:05.123456+00',
    updated_at: '2026-01-02 03:04:05+00',
    ...over,
  };
  return contract.columns.map((c) => base[c.name] ?? null);
}

/** The same row as mysql2 returns it from the table the sink wrote. */
const mysqlRow: Record<string, string | number | null> = {
  id: '9007199254740993',
  email: 'ada@x.io',
  username: 'ada 🐘',
  is_active: 1,
  is_blocked: 0,
  preferences: '{"a":[1,2],"b":1}',
  tags: '["x", null, "y z"]',
  balance: '12.50',
  created_at: '2026-01-02 03:04:05.123456',
  updated_at: '2026-01-02 03:04:05.000000',
};

function targetOf(over: Record<string, string | number | null> = {}): Row {
  const row: Row = {};
  for (const c of plan.columns)
    row[c.name] = domainOfMysql(c.pgType, { ...mysqlRow, ...over }[c.name] ?? null);
  return row;
}

describe('reconcile: MySQL/MariaDB values', () => {
  it('reads back every value the sink wrote as equal', () => {
    const e = expectedOf(plan, sourceRaw()).expected as Row;
    expect(differingColumns(plan, e, targetOf())).toEqual([]);
    const changed = targetOf({ balance: '12.5000', is_active: 0, tags: '["x"]' });
    expect(differingColumns(plan, e, changed).sort()).toEqual(['is_active', 'tags']);
  });

  it('arrays of integers stay exact, bytes come back from base64 in JSON and as bytes', () => {
    expect(domainOfMysql('bigint[]', '[9007199254740993, null, -1]')).toEqual([9007199254740993n, null, -1n]);
    expect(domainOfMysql('boolean[]', '[1, 0]')).toEqual([true, false]);
    expect(domainOfMysql('bytea[]', '["AQI="]')).toEqual([Buffer.from([1, 2])]);
    expect(domainOfMysql('bytea', Buffer.from([1, 2]))).toEqual(Buffer.from([1, 2]));
    expect(domainOfMysql('date', '2026-03-01')).toBe(domainOfMysql('date', '2026-03-01'));
    expect(domainOfMysql('time', '12:00:01.500000')).toBe(43_201_500_000n);
  });

  it('names keys as PostgreSQL prints them, and turns key text into the value the sink wrote', () => {
    const id = contract.columns.find((c) => c.name === 'id')!;
    expect(keyTextOfMysql(id, '42')).toBe('42');
    expect(mysqlKeyParam(id, '9007199254740993')).toBe(9007199254740993n);
    const ts = { ...id, name: 'at', pgType: 'timestamptz' as const, sqlType: 'timestamptz' };
    expect(keyTextOfMysql(ts, '2026-01-02 03:04:05.000000')).toBe('2026-01-02 03:04:05+00');
    expect(keyTextOfMysql(ts, '2026-01-02 03:04:05.120000')).toBe('2026-01-02 03:04:05.12+00');
    expect(mysqlKeyParam(ts, '2026-01-02 03:04:05+00')).toBe('2026-01-02 03:04:05.000000');
  });

  it('a source value MySQL cannot hold makes the row unmappable, not missing', () => {
    expect(expectedOf(plan, sourceRaw({ created_at: 'infinity' })).expected).toBe('unmappable');
    expect(expectedOf(plan, sourceRaw({ created_at: '0900-01-01 00:00:00+00' })).expected).toBe('unmappable');
  });
});
