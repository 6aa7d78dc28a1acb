// Every column type round-trips source -> event -> Avro -> PostgreSQL target byte for byte: a
// property test per type (and per array of it) against the real server. Values are written at a
// source table, read back in the producer's text form (its session settings), decoded as the
// producer does (decodeColumn), carried through the generated contract's Avro envelope, written by
// the sink's own statements (the multi-row unnest upsert and the single-row upsert) and compared
// with the source as text. Shrinking names the smallest value that does not survive.
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDeletedTableSql } from '../../consumers/postgres/deleted.ts';
import { createTableSql, multiUpsertSql, upsertSql, type TargetTable } from '../../consumers/postgres/sql.ts';
import { createTruncatedTableSql } from '../../consumers/postgres/truncated.ts';
import { readTableShape } from '../../ops/contract/catalog.ts';
import { generateContract } from '../../ops/contract/generate.ts';
import { ROW_READ_SESSION_SQL } from '../../producers/postgres/row-reader.ts';
import { avroType } from '../../schemas/avro.ts';
import {
  columnsOf,
  loadContract,
  rowRecordOf,
  type ChangeEvent,
  type ColumnSpec,
  type Row,
} from '../../schemas/contract.ts';
import { decodeColumn } from '../../schemas/values.ts';
import { freshDatabase, stackUrls, type FreshDatabase } from '../support/index.ts';
import {
  ALL_TYPE_CASES,
  TEST_VALUE_FUNCTION,
  TYPES_SETUP_SQL,
  valueSql,
  type TypeCase,
} from '../support/column-types.ts';

const RAW_TEXT = { getTypeParser: () => (value: string) => value };
let db: FreshDatabase;
let client: pg.Client;

beforeAll(async () => {
  db = await freshDatabase(stackUrls().adminUrl, 'typesrt');
  client = new pg.Client({ connectionString: db.url, types: RAW_TEXT });
  await client.connect();
  await client.query(ROW_READ_SESSION_SQL);
  for (const sql of [...TYPES_SETUP_SQL, TEST_VALUE_FUNCTION]) await client.query(sql);
}, 60_000);
afterAll(async () => {
  await client?.end();
  await db?.drop();
});

function event(after: Row, seq: number): ChangeEvent {
  return {
    before: null,
    after,
    unchanged: [],
    source: {
      version: 'test',
      connector: 'pgcdc',
      name: 'rt',
      db: 'rt',
      schema: 'public',
      table: 'src',
      lsn: 1000n,
      commit_lsn: 1000n,
      seq: BigInt(seq),
      tx_id: 1n,
      ts_us: 0n,
      snapshot: false,
    },
    op: 'c',
    ts_ms: 0n,
    event_id: `0/3E8:${seq}`,
  };
}

interface Harness {
  spec: ColumnSpec;
  roundTrip(values: (string | null)[]): Promise<void>;
}

async function harness(c: TypeCase): Promise<Harness> {
  const src = `s_${c.column}`;
  await client.query(`CREATE TABLE ${src} (id int PRIMARY KEY, v ${c.sqlType})`);
  const shape = (await readTableShape(client, 'public', src))!;
  const generated = generateContract(shape, loadContract().valueSchema);
  const type = avroType(generated.valueSchema);
  const columns = columnsOf(rowRecordOf(generated.valueSchema));
  const spec = columns.find((col) => col.name === 'v')!;
  const targets: TargetTable[] = ['multi', 'single'].map((how) => ({
    schema: 'public',
    table: `d_${how}_${c.column}`,
    columns,
    keyColumns: ['id'],
  }));
  for (const t of targets)
    for (const ddl of [createTableSql(t), createDeletedTableSql(t), createTruncatedTableSql(t)])
      await client.query(ddl);
  const read = async (table: string) =>
    (
      await client.query<{ id: string; v: string | null }>(
        `SELECT id, v::text AS v FROM ${table} ORDER BY id`,
      )
    ).rows;

  return {
    spec,
    async roundTrip(values) {
      await client.query(`TRUNCATE ${[src, ...targets.map((t) => t.table)].join(', ')}`);
      await client.query(
        `INSERT INTO ${src} (id, v) SELECT i, ${valueSql('x', c.sqlType)} FROM unnest($1::text[]) WITH ORDINALITY AS u(x, i)`,
        [values],
      );
      const rows = (
        await client.query<{ id: string; v: string | null }>(`SELECT id, v FROM ${src} ORDER BY id`)
      ).rows;
      // producer: text -> domain value; Kafka: the contract's Avro envelope; consumer: decoded event
      const events = rows.map((r, i) => {
        const after: Row = { id: Number(r.id), v: r.v === null ? null : decodeColumn(spec, r.v) };
        const wire = type.toBuffer(event(after, i));
        return type.fromBuffer(wire) as ChangeEvent;
      });
      if (events.length > 0) await client.query(multiUpsertSql(targets[0]!, events));
      for (const e of events) await client.query(upsertSql(targets[1]!, e));
      const expected = await read(src);
      expect(await read(targets[0]!.table)).toEqual(expected);
      expect(await read(targets[1]!.table)).toEqual(expected);
    },
  };
}

describe.each(ALL_TYPE_CASES)('$sqlType round-trips byte for byte', (c) => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness(c);
  }, 60_000);

  it('the awkward values and NULL', async () => {
    await h.roundTrip([...c.awkward, null]);
  }, 60_000);

  it('generated values (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.option(c.values, { nil: null, freq: 6 }), { maxLength: 8 }), (values) =>
        h.roundTrip(values),
      ),
      { numRuns: 20 },
    );
  }, 120_000);
});
