// consumers/postgres/sql.ts: statements of the PostgreSQL sink. Identifiers quoted, values only as
// parameters, every write guarded by the source position (commit_lsn, seq).
import { describe, expect, it } from 'vitest';
import {
  EVENT_ID,
  POS_LSN,
  POS_SEQ,
  SYNCED_AT,
  applySql,
  createTableSql,
  deleteSql,
  arrayLiteral,
  existsSql,
  multiUpsertSql,
  partialUpdateSql,
  quoteIdent,
  upsertSql,
  type Statement,
  type TargetTable,
} from '../../../../consumers/postgres/sql.ts';
import { loadContract, type ChangeEvent, type Op, type Row } from '../../../../schemas/contract.ts';
import { changeEvent } from '../../support/events.ts';

const contract = loadContract();
const table: TargetTable = {
  schema: 'we"ird',
  table: 'users',
  columns: contract.columns,
  keyColumns: contract.keyColumns,
};
const QNAME = '"we""ird"."users"';
const INJECTION = `Robert'); DROP TABLE users; --`;

const row = (id: bigint, overrides: Row = {}): Row => ({
  id,
  email: `${INJECTION}@example.com`,
  username: INJECTION,
  first_name: '$1',
  middle_name: null,
  last_name: "O'Brien",
  password_hash: null,
  phone: null,
  company: 'ACME "Inc"',
  address: null,
  zip: null,
  city: null,
  country: null,
  is_active: true,
  is_blocked: false,
  bio: 'bio text',
  preferences: '{"k": "v"}',
  tags: ['a', null],
  balance: '12.50',
  created_at: 1709190296789012n,
  updated_at: 1709251200000000n,
  last_login_at: null,
  ...overrides,
});

function event(
  op: Op,
  after: Row | null,
  opts: { unchanged?: string[]; commitLsn?: bigint; seq?: bigint } = {},
): ChangeEvent {
  const commitLsn = opts.commitLsn ?? 0x3000100n;
  const seq = opts.seq ?? 4n;
  return changeEvent({
    after,
    unchanged: opts.unchanged ?? [],
    source: { lsn: commitLsn - 8n, commit_lsn: commitLsn, seq },
    op,
    event_id: `0/3000100:${seq}`,
  });
}

/** Every $n used, and that they are exactly $1..$values.length. */
function expectParamsMatch(stmt: Statement): void {
  const used = new Set([...stmt.text.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])));
  expect([...used].sort((a, b) => a - b)).toEqual(stmt.values.map((_, i) => i + 1));
}

/** Values must travel as parameters: none of the value texts may appear in the SQL. */
function expectNoValuesInText(stmt: Statement): void {
  for (const v of [INJECTION, "O'Brien", 'ACME', 'bio text', '12.50', '{"k"'])
    expect(stmt.text).not.toContain(v);
}

const GUARD = (lsn: number, seq: number) =>
  `(t."${POS_LSN}", t."${POS_SEQ}") < ($${lsn}::bigint, $${seq}::bigint)`;

describe('quoteIdent', () => {
  it.each([
    ['users', '"users"'],
    ['we"ird', '"we""ird"'],
    ['""', '""""""'],
    ['Mixed Case', '"Mixed Case"'],
  ])('%s -> %s', (id, quoted) => {
    expect(quoteIdent(id)).toBe(quoted);
  });
});

describe('createTableSql', () => {
  const ddl = createTableSql(table);

  it('creates the quoted table if missing', () => {
    expect(ddl.startsWith(`CREATE TABLE IF NOT EXISTS ${QNAME} (`)).toBe(true);
  });

  it('declares every contract column with its SQL type, NOT NULL where the contract requires a value', () => {
    for (const c of contract.columns) {
      expect(ddl).toContain(`  "${c.name}" ${c.sqlType}${c.nullable ? ',' : ' NOT NULL,'}\n`);
    }
    expect(ddl).toContain('"balance" numeric(12,2),');
    expect(ddl).toContain('"tags" text[],');
    expect(ddl).toContain('"email" text NOT NULL,');
  });

  it('adds the bookkeeping columns and the primary key, no secondary unique constraint', () => {
    expect(ddl).toContain(`"${POS_LSN}" bigint NOT NULL`);
    expect(ddl).toContain(`"${POS_SEQ}" bigint NOT NULL`);
    expect(ddl).toContain(`"${EVENT_ID}" text NOT NULL`);
    expect(ddl).toContain(`"${SYNCED_AT}" timestamptz NOT NULL DEFAULT clock_timestamp()`);
    expect(ddl).toMatch(/PRIMARY KEY \("id"\)\n\)$/);
    expect(ddl).not.toMatch(/UNIQUE/i);
  });

  it('quotes a hostile schema, table and key name', () => {
    const t: TargetTable = {
      schema: 'a"; DROP SCHEMA x; --',
      table: 't"t',
      columns: [{ name: 'k"k', sqlType: 'bigint', pgType: 'bigint', nullable: false }],
      keyColumns: ['k"k'],
    };
    const sql = createTableSql(t);
    expect(sql).toContain('"a""; DROP SCHEMA x; --"."t""t"');
    expect(sql).toContain('"k""k" bigint NOT NULL');
    expect(sql).toContain('PRIMARY KEY ("k""k")');
  });
});

describe('upsertSql', () => {
  const e = event('c', row(9007199254740993n));
  const stmt = upsertSql(table, e);
  const names = [...contract.columns.map((c) => c.name), POS_LSN, POS_SEQ, EVENT_ID];

  it('inserts every column plus the position, in order, as parameters', () => {
    expect(stmt.text).toContain(
      `INSERT INTO ${QNAME} AS t (${names.map((n) => `"${n}"`).join(', ')}) SELECT ${names.map((n) => `v."${n}"`).join(', ')} FROM (VALUES ($1::bigint, $2::text, `,
    );
    expect(stmt.values).toHaveLength(names.length);
    expectParamsMatch(stmt);
    expectNoValuesInText(stmt);
  });

  it('passes values in their parameter form', () => {
    const v = (name: string) => stmt.values[names.indexOf(name)];
    expect(v('id')).toBe('9007199254740993');
    expect(v('username')).toBe(INJECTION);
    expect(v('first_name')).toBe('$1');
    expect(v('middle_name')).toBeNull();
    expect(v('is_active')).toBe(true);
    expect(v('tags')).toEqual(['a', null]);
    expect(v('created_at')).toBe('2024-02-29 07:04:56.789012+00');
    expect(v(POS_LSN)).toBe(String(0x3000100n));
    expect(v(POS_SEQ)).toBe('4');
    expect(v(EVENT_ID)).toBe('0/3000100:4');
  });

  it('inserts nothing behind the marker of a later delete of the key', () => {
    expect(stmt.text).toContain(
      ` WHERE NOT EXISTS (SELECT 1 FROM "we""ird"."users_pgcdc_deleted" AS d WHERE d."id" = v."id" AND (d."${POS_LSN}", d."${POS_SEQ}") >= (v."${POS_LSN}", v."${POS_SEQ}")) AND `,
    );
  });

  it('inserts nothing behind the truncate mark of the table', () => {
    expect(stmt.text).toContain(
      ` AND NOT EXISTS (SELECT 1 FROM "we""ird"."users_pgcdc_truncated" AS tr WHERE (tr."${POS_LSN}", tr."${POS_SEQ}") >= (v."${POS_LSN}", v."${POS_SEQ}")) ON CONFLICT `,
    );
  });

  it('on conflict updates every non-key column, only when the stored row is older', () => {
    const n = names.length;
    expect(stmt.text).toContain(' ON CONFLICT ("id") DO UPDATE SET ');
    expect(stmt.text).not.toContain('"id" = EXCLUDED."id"');
    for (const name of names.filter((x) => x !== 'id'))
      expect(stmt.text).toContain(`"${name}" = EXCLUDED."${name}"`);
    expect(stmt.text).toContain(`"${SYNCED_AT}" = clock_timestamp()`);
    // The guard refers to the _pgcdc_lsn and _pgcdc_seq parameters.
    expect(stmt.text.endsWith(` WHERE ${GUARD(n - 2, n - 1)}`)).toBe(true);
    expect(stmt.values[n - 3]).toBe(String(0x3000100n));
    expect(stmt.values[n - 2]).toBe('4');
  });
});

describe('partialUpdateSql', () => {
  const e = event('u', row(42n, { bio: null }), { unchanged: ['bio'], seq: 7n });
  const stmt = partialUpdateSql(table, e);

  it('updates only the carried, non-key columns and the position', () => {
    expect(stmt.text.startsWith(`UPDATE ${QNAME} AS t SET `)).toBe(true);
    const set = stmt.text.slice(0, stmt.text.indexOf(' WHERE '));
    expect(set).not.toContain('"bio"');
    expect(set).not.toContain('"id" =');
    for (const c of contract.columns.filter((x) => x.name !== 'bio' && x.name !== 'id')) {
      expect(set).toContain(`"${c.name}" = $`);
    }
    expect(set).toContain(`"${POS_LSN}" = $`);
    expect(set).toContain(`"${SYNCED_AT}" = clock_timestamp()`);
  });

  it('addresses the row by key and guards by position', () => {
    const base = contract.columns.length - 2; // all but id and bio
    expect(stmt.text.endsWith(` WHERE t."id" = $${base + 4} AND ${GUARD(base + 1, base + 2)}`)).toBe(true);
    expect(stmt.values.slice(base)).toEqual([String(0x3000100n), '7', '0/3000100:7', '42']);
    expectParamsMatch(stmt);
    expectNoValuesInText(stmt);
  });

  it.each([
    [['bio']],
    [['bio', 'preferences']],
    [['tags', 'bio', 'address', 'username']],
    [contract.columns.map((c) => c.name)],
  ])('keeps placeholders and values in step when %j are unchanged', (unchanged) => {
    const s = partialUpdateSql(table, event('u', row(1n), { unchanged }));
    expectParamsMatch(s);
    const set = s.text.slice(0, s.text.indexOf(' WHERE '));
    for (const c of unchanged) expect(set).not.toContain(`"${c}" = $`);
  });
});

describe('deleteSql and existsSql', () => {
  it('deletes by key, guarded by position, and moves the delete marker of the key forward', () => {
    const e = event('d', null, { seq: 2n });
    const stmt = deleteSql(table, e, { id: 9007199254740993n });
    const cols = `"id", "${POS_LSN}", "${POS_SEQ}", "${EVENT_ID}"`;
    expect(stmt).toEqual({
      text:
        `WITH del AS (DELETE FROM ${QNAME} AS t WHERE t."id" = $1 AND ${GUARD(2, 3)}) ` +
        `INSERT INTO "we""ird"."users_pgcdc_deleted" AS m (${cols}) SELECT s."id", s."${POS_LSN}", s."${POS_SEQ}", s."${EVENT_ID}" ` +
        `FROM (VALUES ($1::bigint, $2::bigint, $3::bigint, $4::text)) AS s (${cols}) ` +
        `ON CONFLICT ("id") DO UPDATE SET "${POS_LSN}" = EXCLUDED."${POS_LSN}", "${POS_SEQ}" = EXCLUDED."${POS_SEQ}", "${EVENT_ID}" = EXCLUDED."${EVENT_ID}", "_pgcdc_deleted_at" = clock_timestamp() ` +
        `WHERE (m."${POS_LSN}", m."${POS_SEQ}") < (EXCLUDED."${POS_LSN}", EXCLUDED."${POS_SEQ}")`,
      values: ['9007199254740993', String(0x3000100n), '2', e.event_id],
    });
  });

  it('checks existence by key', () => {
    expect(existsSql(table, { id: 5n })).toEqual({
      text: `SELECT 1 FROM ${QNAME} AS t WHERE t."id" = $1`,
      values: ['5'],
    });
  });
});

describe('applySql', () => {
  const key = { id: 42n };
  it.each<[Op, string[], string]>([
    ['c', [], 'INSERT INTO'],
    ['r', [], 'INSERT INTO'],
    ['u', [], 'INSERT INTO'],
    ['u', ['bio'], 'UPDATE '],
    ['c', ['bio'], 'UPDATE '],
  ])('op %s with unchanged %j -> %s', (op, unchanged, prefix) => {
    const e = event(op, row(42n), { unchanged });
    const stmt = applySql(table, e, key);
    expect(stmt.text.startsWith(prefix)).toBe(true);
    expect(stmt).toEqual(unchanged.length > 0 ? partialUpdateSql(table, e) : upsertSql(table, e));
  });

  it('op d -> guarded delete by the message key', () => {
    const e = event('d', null);
    expect(applySql(table, e, key)).toEqual(deleteSql(table, e, key));
  });
});

describe('multiUpsertSql', () => {
  const events = [
    event('c', row(1n), { seq: 1n }),
    event('u', row(2n, { tags: ['x "quoted"', 'back\\slash'], balance: null }), { seq: 2n }),
    event('r', row(3n, { tags: null }), { seq: 3n }),
  ];
  const stmt = multiUpsertSql(table, events);
  const names = [...contract.columns.map((c) => c.name), POS_LSN, POS_SEQ, EVENT_ID];

  it('one array parameter per column, whatever the number of rows; the text does not depend on it', () => {
    expect(stmt.values).toHaveLength(names.length);
    for (const v of stmt.values) expect(v).toHaveLength(events.length);
    expectParamsMatch(stmt);
    expect(multiUpsertSql(table, events.slice(0, 1)).text).toBe(stmt.text);
    expect(stmt.text).toContain(
      `INSERT INTO ${QNAME} AS t (${names.map((n) => `"${n}"`).join(', ')}) SELECT `,
    );
    expect(stmt.text).toContain('unnest($1::bigint[], $2::text[]');
    expect(stmt.text).toContain(`$${names.length}::text[]) AS u(`);
  });

  it('array-typed columns travel as literal text and are cast back', () => {
    const tagsAt = names.indexOf('tags');
    expect(stmt.text).toContain(`$${tagsAt + 1}::text[]`);
    expect(stmt.text).toContain('u."tags"::text[]');
    expect(stmt.values[tagsAt]).toEqual(['{"a",NULL}', '{"x \\"quoted\\"","back\\\\slash"}', null]);
  });

  it('carries the positions and is guarded by them', () => {
    expect(stmt.values[names.indexOf(POS_SEQ)]).toEqual(['1', '2', '3']);
    expect(stmt.values[names.indexOf(POS_LSN)]).toEqual(Array(3).fill(String(0x3000100n)));
    expect(stmt.text).toMatch(
      /ON CONFLICT \("id"\) DO UPDATE SET .* WHERE \(t\."_pgcdc_lsn", t\."_pgcdc_seq"\) < \(EXCLUDED\."_pgcdc_lsn", EXCLUDED\."_pgcdc_seq"\)$/,
    );
    expectNoValuesInText(stmt);
  });

  it('arrayLiteral quotes every element and escapes quotes and backslashes', () => {
    expect(arrayLiteral([])).toBe('{}');
    expect(arrayLiteral(['', 'NULL', null, '{,}'])).toBe('{"","NULL",NULL,"{,}"}');
  });
});
