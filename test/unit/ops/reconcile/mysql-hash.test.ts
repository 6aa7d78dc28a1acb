// Range hashes at a MySQL/MariaDB target, pure part: which contract types both servers can print in
// one canonical form (and why the others cannot), that the users table hashes at MariaDB but not at
// MySQL (its JSON), that a mapping with a filter, a float column or a key the target may order
// differently (a text key under a collation that does not order by bytes) falls back to the row
// comparison, and the shape of the SQL on both sides (length-prefixed, NULL apart, bytes at MySQL).
// Real MariaDB checks the forms agree: test/ops/reconcile-mysql.int.test.ts (no chunk read when clean).
import { describe, expect, it } from 'vitest';
import { MysqlTargetSchema } from '../../../../pipeline/config/mysql.ts';
import { loadContract, type ColumnSpec, type TableContract } from '../../../../schemas/contract.ts';
import { planTable } from '../../../../ops/reconcile/plan.ts';
import {
  byteOrdered,
  formsOf,
  mysqlRowHash,
  pgRowHash,
  unhashable,
} from '../../../../ops/reconcile/mysql-hash.ts';

const contract = loadContract();
const target = MysqlTargetSchema.parse({ name: 'my', type: 'mysql', url: 'mysql://u:p@h:3306/db' });
const at = { schema: 'public', table: 'users' };
const spec = (pgType: string, sqlType: string = pgType): ColumnSpec =>
  ({ name: 'c', pgType, sqlType, nullable: true }) as ColumnSpec;

function tableOf(columns: ColumnSpec[], key = 'id'): TableContract {
  return { ...contract, columns, keyColumns: [key] };
}

describe('reconcile range hashes at MySQL/MariaDB', () => {
  it('hashes the types both servers print alike, and says why not for the others', () => {
    for (const t of ['smallint', 'integer', 'bigint', 'boolean', 'text', 'varchar', 'uuid', 'date', 'time'])
      expect(typeof formsOf(spec(t), 'mysql'), t).toBe('object');
    for (const t of ['timestamp', 'timestamptz', 'bytea', 'interval', 'inet', 'citext'])
      expect(typeof formsOf(spec(t), 'mysql'), t).toBe('object');
    expect(typeof formsOf(spec('numeric', 'numeric(12,2)'), 'mysql')).toBe('object');
    expect(formsOf(spec('numeric', 'numeric'), 'mysql')).toMatch(/another scale/);
    expect(formsOf(spec('numeric', 'numeric(70,2)'), 'mysql')).toMatch(/another scale/);
    expect(formsOf(spec('double precision'), 'mariadb')).toMatch(/floats/);
    const char = formsOf(spec('char', 'char(3)'), 'mariadb');
    expect(typeof char).toBe('object');
    if (typeof char === 'object') expect([char.pg('x'), char.my('x')]).toEqual(['textin(bpcharout(x))', 'x']);
    expect(typeof formsOf(spec('jsonb'), 'mariadb')).toBe('object');
    expect(formsOf(spec('jsonb'), 'mysql')).toMatch(/rewrites JSON/);
    expect(typeof formsOf(spec('text[]', 'text[]'), 'mariadb')).toBe('object');
    expect(typeof formsOf(spec('bigint[]', 'bigint[]'), 'mariadb')).toBe('object');
    expect(formsOf(spec('boolean[]', 'boolean[]'), 'mariadb')).toMatch(/changes form/);
    expect(formsOf(spec('text[]', 'text[]'), 'mysql')).toMatch(/rewrites/);
  });

  it('the users table hashes at MariaDB; a filter, a text key or a float column falls back to rows', () => {
    const plan = planTable(contract, target, at);
    expect(unhashable(plan, 'mariadb')).toBeUndefined();
    expect(unhashable(plan, 'mysql')).toMatch(/column preferences: MySQL rewrites JSON/);
    const filteredTarget = MysqlTargetSchema.parse({
      name: 'my',
      type: 'mysql',
      url: 'mysql://u:p@h:3306/db',
      mapping: { filter: 'is_active' },
    });
    const filtered = planTable(contract, filteredTarget, at);
    expect(unhashable(filtered, 'mariadb')).toMatch(/filter/);
    const textKey = planTable(tableOf([spec('text')], 'c'), target, at);
    expect(unhashable(textKey, 'mariadb')).toMatch(/key column c: its collation at the target \(unknown\)/);
    const id = { ...spec('bigint'), name: 'id', nullable: false } as ColumnSpec;
    const floats = planTable(tableOf([id, spec('double precision')]), target, at);
    expect(unhashable(floats, 'mariadb')).toMatch(/column c: the servers print floats differently/);
  });

  it('hashes a key range only where both servers order the key alike', () => {
    const key = (pgType: string, sqlType = pgType) =>
      planTable(tableOf([spec(pgType, sqlType)], 'c'), target, at);
    const coll = (c: string | null) => new Map([['c', c]]);
    for (const t of ['text', 'varchar', 'uuid']) {
      expect(unhashable(key(t), 'mariadb', coll('utf8mb4_nopad_bin')), t).toBeUndefined();
      expect(unhashable(key(t), 'mysql', coll('utf8mb4_0900_bin')), t).toBeUndefined();
      expect(unhashable(key(t), 'mariadb', coll('binary')), t).toBeUndefined();
      // a case-insensitive order ('B' before 'a'), or trailing spaces ignored (PAD SPACE)
      expect(unhashable(key(t), 'mariadb', coll('utf8mb4_unicode_ci')), t).toMatch(/does not order by bytes/);
      expect(unhashable(key(t), 'mariadb', coll('utf8mb4_bin')), t).toMatch(/does not order by bytes/);
    }
    for (const t of ['smallint', 'bigint', 'date', 'time', 'timestamp', 'timestamptz', 'boolean', 'bytea'])
      expect(unhashable(key(t), 'mariadb', coll(null)), t).toBeUndefined();
    expect(unhashable(key('numeric', 'numeric(12,2)'), 'mariadb')).toBeUndefined();
    expect(unhashable(key('numeric', 'numeric'), 'mariadb')).toMatch(/key column c: numeric changes scale/);
    for (const t of ['citext', 'char', 'inet', 'enum', 'interval'])
      expect(unhashable(key(t), 'mariadb', coll('utf8mb4_nopad_bin')), t).toMatch(
        /may be ordered differently/,
      );
    expect(byteOrdered('utf8mb4_nopad_bin')).toBe(true);
    expect(byteOrdered('utf8mb4_general_nopad_ci')).toBe(false);
    expect(byteOrdered(null)).toBe(false);
  });

  it('builds length-prefixed forms, NULL apart, concatenated as bytes at MySQL', () => {
    const id = { ...spec('bigint'), name: 'id', nullable: false } as ColumnSpec;
    const plan = planTable(tableOf([id, spec('timestamptz')]), target, at);
    const col = (n: string) => `x."${n}"`;
    expect(pgRowHash(plan, col)).toBe(
      `md5(coalesce(char_length(x."id"::text)::text || ':' || x."id"::text, '~') || ` +
        `coalesce(char_length(to_char(x."c" AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'))::text || ':' || ` +
        `to_char(x."c" AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), '~'))`,
    );
    expect(mysqlRowHash(plan, 'mariadb', (n) => `x.\`${n}\``)).toBe(
      "MD5(CONCAT(COALESCE(CONCAT(CHAR_LENGTH(CAST(x.`id` AS CHAR)), ':', CAST(CAST(x.`id` AS CHAR) AS BINARY)), '~'), " +
        "COALESCE(CONCAT(CHAR_LENGTH(CAST(x.`c` AS CHAR)), ':', CAST(CAST(x.`c` AS CHAR) AS BINARY)), '~')))",
    );
  });
});
