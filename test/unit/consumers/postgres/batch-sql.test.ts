// consumers/postgres/batch-sql.ts: a collapsed batch as one statement. Its parts are the sink's
// own set-based statements (same guards), their parameters numbered one after the other; one part
// alone is that part's statement; the text depends on the parts present, never on the row count.
// Array parameters are sent as the literal node-postgres itself would make of them.
import fc from 'fast-check';
// @ts-expect-error node-postgres' internal helpers have no types
import pgUtils from 'pg/lib/utils.js';
import { describe, expect, it } from 'vitest';
import { arrayParam, batchSql } from '../../../../consumers/postgres/batch-sql.ts';
import {
  multiDeleteSql,
  multiPartialUpdateSql,
  multiUpsertSql,
  type Statement,
  type TargetTable,
} from '../../../../consumers/postgres/sql.ts';
import { loadContract, type ChangeEvent, type Op, type Row } from '../../../../schemas/contract.ts';
import { changeEvent } from '../../support/events.ts';

const contract = loadContract();
const table: TargetTable = {
  schema: 'public',
  table: 'users',
  columns: contract.columns,
  keyColumns: contract.keyColumns,
};
const INJECTION = `Robert'); DROP TABLE users; --`;

const row = (id: bigint): Row =>
  Object.fromEntries(
    contract.columns.map((c) => [c.name, c.name === 'id' ? id : c.name === 'username' ? INJECTION : null]),
  );

function event(op: Op, id: bigint, seq: bigint, unchanged: string[] = []): ChangeEvent {
  return changeEvent({
    after: op === 'd' ? null : row(id),
    unchanged,
    source: { lsn: 0x3000100n - 8n, commit_lsn: 0x3000100n, seq },
    op,
    event_id: `0/3000100:${seq}`,
  });
}

function expectParamsMatch(stmt: Statement): void {
  const used = new Set([...stmt.text.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])));
  expect([...used].sort((a, b) => a - b)).toEqual(stmt.values.map((_, i) => i + 1));
}

const upserts = [event('c', 1n, 1n), event('u', 2n, 2n)];
const partials = [event('u', 3n, 3n, ['bio']), event('u', 4n, 4n, ['bio'])];
const otherPartials = [event('u', 5n, 5n, ['bio', 'preferences'])];
const deletes = [event('d', 6n, 6n), event('d', 7n, 7n)].map((e, i) => ({
  key: { id: 6n + BigInt(i) },
  event: e,
}));

describe('batchSql', () => {
  it('one part alone is that part’s own statement', () => {
    const none = { upserts: [], partialGroups: [], deletes: [] };
    expect(batchSql(table, { ...none, upserts })).toEqual(multiUpsertSql(table, upserts));
    expect(batchSql(table, { ...none, deletes })).toEqual(multiDeleteSql(table, deletes));
    expect(batchSql(table, { ...none, partialGroups: [partials] })).toEqual(
      multiPartialUpdateSql(table, partials),
    );
  });

  it('every part as a CTE of one statement, parameters numbered one after the other', () => {
    const stmt = batchSql(table, { upserts, partialGroups: [partials, otherPartials], deletes });
    expectParamsMatch(stmt);
    expect(stmt.text).not.toContain(INJECTION);
    const up = multiUpsertSql(table, upserts);
    const p0 = multiPartialUpdateSql(table, partials, up.values.length + 4);
    const p1 = multiPartialUpdateSql(table, otherPartials, up.values.length + 4 + p0.values.length);
    expect(stmt.text.startsWith(`WITH pgcdc_up AS (${up.text}), pgcdc_gone AS (SELECT unnest(`)).toBe(true);
    expect(stmt.text).toContain(`pgcdc_part0 AS (${p0.text})`);
    expect(stmt.text).toContain(`pgcdc_part1 AS (${p1.text})`);
    expect(stmt.text).toContain('DELETE FROM "public"."users" AS t USING pgcdc_gone AS s WHERE');
    expect(stmt.text).toContain('pgcdc_marks AS (INSERT INTO "public"."users_pgcdc_deleted" AS m');
    expect(stmt.text.endsWith(' SELECT * FROM pgcdc_part0 UNION ALL SELECT * FROM pgcdc_part1')).toBe(true);
    expect(stmt.values).toEqual([
      ...up.values,
      ...multiDeleteSql(table, deletes).values,
      ...p0.values,
      ...p1.values,
    ]);
  });

  it('without partial updates it returns no rows; the text does not depend on the number of rows', () => {
    const stmt = batchSql(table, { upserts, partialGroups: [], deletes });
    expectParamsMatch(stmt);
    expect(stmt.text.endsWith(' SELECT NULL::text WHERE false')).toBe(true);
    const fewer = batchSql(table, {
      upserts: upserts.slice(0, 1),
      partialGroups: [],
      deletes: deletes.slice(1),
    });
    expect(fewer.text).toBe(stmt.text);
  });
});

describe('arrayParam', () => {
  // node-postgres' own conversion of an array parameter: what arrayParam must send, byte for byte
  const pgArray = (items: unknown[]) =>
    (pgUtils as { prepareValue(v: unknown): unknown }).prepareValue(items);

  it('is node-postgres’ array literal of strings, booleans, numbers and nulls', () => {
    const samples: unknown[][] = [
      [],
      [null],
      ['a', null, 'b "quoted"', 'back\\slash', '\\"', '', 'NULL', '{,}', 'ünïcödé', ' spaced '],
      [true, false, null],
      [1, 2.5, -0.25],
      ['2024-02-29 07:04:56.789012+00', '12.50', '9007199254740993'],
    ];
    for (const s of samples) expect(arrayParam(s)).toBe(pgArray(s));
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.string(), fc.constant(null), fc.boolean())), (items) => {
        expect(arrayParam(items)).toBe(pgArray(items));
      }),
    );
  });

  it('leaves nested arrays and buffers to node-postgres', () => {
    expect(arrayParam([['a']])).toBeUndefined();
    expect(arrayParam([Buffer.from('x')])).toBeUndefined();
  });
});
