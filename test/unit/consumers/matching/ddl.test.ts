// A matched table pgcdc creates (Postgres and MariaDB) lets its match column be NULL, though the
// source column is NOT NULL: the matched rules give a value up by setting it to NULL (a deleted
// row's value released, an event written without a value a later row holds).
import { describe, expect, it } from 'vitest';
import { matchedMysqlTableOf, createMatchedTableSql as mysqlDdl } from '../../../../consumers/mysql/match.ts';
import { matchedTableOf } from '../../../../consumers/postgres/matched-sink.ts';
import { createMatchedTableSql as pgDdl } from '../../../../consumers/postgres/matched.ts';
import { PostgresTargetSchema } from '../../../../pipeline/config/targets.ts';
import { shapeOf } from '../mapping/support.ts';

const mapping = {
  include: ['email', 'username'],
  match: { column: 'email', caseInsensitive: true, targetKey: 'uid' },
};

describe('a created matched table', () => {
  const shape = shapeOf(mapping);
  it('Postgres: the match column is nullable, the others as the contract says', () => {
    const cfg = PostgresTargetSchema.parse({
      name: 'cms',
      type: 'postgres',
      url: 'postgres://x/y',
      table: 'fe',
      mapping,
    });
    const [ddl] = pgDdl(matchedTableOf(cfg, shape));
    expect(ddl).toContain('"email" text,');
    expect(ddl).toMatch(/"username" text NOT NULL/);
  });
  it('MariaDB: the match column is NULL, the others as the contract says', () => {
    const ddl = mysqlDdl(matchedMysqlTableOf({ table: 'fe' }, shape), 'utf8mb4_bin');
    expect(ddl).toMatch(/`email` [^,]* NULL,/);
    expect(ddl).not.toMatch(/`email` [^,]*NOT NULL/);
    expect(ddl).toMatch(/`username` [^,]*NOT NULL/);
  });
});
