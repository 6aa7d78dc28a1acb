// Range hashes at MariaDB for what was read row by row before (ops/reconcile/mysql-hash.ts), synced
// by the real pipeline into tables the sink creates: `codes`, keyed by (varchar, uuid) with a
// char(n) column (its key under utf8mb4_nopad_bin, which orders by bytes as the source's "C" order
// does, trailing spaces and tabs counted; keys chosen where other orders disagree: 'B' before 'a'
// in byte order, 'k' < 'k\t' < 'k ', accents, 4-byte UTF-8; padded char values), and `stamps`,
// keyed by (date, timestamptz, numeric(8,2), bytea, time), the kinds both servers order by value.
// Clean: every chunk agrees by its hashes, none is read row by row. Then one value of each newly
// hashed type is changed at the target (the char column; a varchar, a uuid, a date, a timestamptz,
// a numeric, a bytea and a time key): each is found (the hashes of its chunk differ, the chunk is
// read row by row), exactly those, and --repair brings the target back, after which every chunk
// agrees by its hashes again.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { envelopeTemplate } from '../../ops/contract/index.ts';
import { writeContract } from '../../ops/contract/files.ts';
import { generateContract } from '../../ops/contract/generate.ts';
import { reconcile } from '../../ops/reconcile/index.ts';
import { withReconcileClient } from '../../ops/reconcile/postgres.ts';
import { stackUrls, waitUntil } from '../support/index.ts';
import {
  dropPipelineEnv,
  query,
  runProducer,
  startTestConsumer,
  testApp,
  type Stops,
} from '../support/pipeline.ts';
import { mysqlPipelineEnv, mysqlRows } from '../mysql/support.ts';

const stops: Stops = [];
let cleanup: (() => Promise<void>) | undefined;
afterAll(async () => cleanup?.());

const REF = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

/** A contract directory with the contracts of codes and stamps (as `pgcdc contract generate` writes them). */
function contracts(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'pgcdc-rec-keys-'));
  const col = (name: string, type: string, notNull = true) => ({ name, type, notNull });
  const table = (name: string, columns: ReturnType<typeof col>[], primaryKey: string[]) => ({
    schema: 'public',
    table: name,
    columns,
    primaryKey,
    replicaIdentity: 'd',
    identityIndex: [],
  });
  const codes = table(
    'codes',
    [
      col('code', 'character varying(40)'),
      col('ref', 'uuid'),
      col('tag', 'character(6)', false),
      col('note', 'text', false),
    ],
    ['code', 'ref'],
  );
  const stamps = table(
    'stamps',
    [
      col('day', 'date'),
      col('at', 'timestamp with time zone'),
      col('amount', 'numeric(8,2)'),
      col('tag', 'bytea'),
      col('t', 'time without time zone'),
      col('note', 'text', false),
    ],
    ['day', 'at', 'amount', 'tag', 't'],
  );
  for (const t of [codes, stamps])
    writeContract(dir, t.table, generateContract(t, envelopeTemplate()), false);
  return dir;
}

/** stamps' key as reconcile names it (PostgreSQL's text in reconcile's session). */
const STAMP_KEY = 'json_build_array(day::text, at::text, amount::text, tag::text, t::text)::text';
/** One key column of each value-ordered type changed (by note): at MariaDB, and the new key at the source. */
const STAMP_CHANGES = [
  { note: 'n11', column: 'day', my: 'day + INTERVAL 1000 DAY', pg: 'day + 1000' },
  { note: 'n12', column: 'at', my: 'at + INTERVAL 1 SECOND', pg: "at + interval '1 second'" },
  { note: 'n13', column: 'amount', my: 'amount + 0.01', pg: 'amount + 0.01' },
  { note: 'n14', column: 'tag', my: "UNHEX('FF')", pg: "'\\xff'::bytea" },
  { note: 'n15', column: 't', my: "ADDTIME(t, '00:00:01')", pg: "t + interval '1 second'" },
];

const key = (code: string, ref: string) => JSON.stringify([code, ref]);

describe('reconcile range hashes at MariaDB: char(n); varchar, uuid and value-ordered keys', () => {
  it('a clean target reads no chunk row by row; one changed value of each type is found and repaired', async () => {
    const env = await mysqlPipelineEnv(
      stackUrls(),
      'rec_myk',
      {},
      {
        source: { tables: ['public.codes', 'public.stamps'], contracts: contracts() },
      },
    );
    const app = testApp(env.config);
    cleanup = () => dropPipelineEnv(env, app.kafka, stops);
    const deps = { config: env.config, pg: app.pg, kafka: app.kafka, logger: app.logger };
    await query(
      env.source.url,
      `CREATE TABLE codes (code varchar(40) NOT NULL, ref uuid NOT NULL, tag char(6), note text, PRIMARY KEY (code, ref));
       INSERT INTO codes (code, ref, tag, note)
       SELECT (ARRAY['a', 'B', 'é', '😀', 'Z', '_', '~', 'b'])[1 + i % 8] || i, md5('r' || i)::uuid,
         CASE WHEN i % 5 <> 0 THEN substr(md5(i::text), 1, 1 + i % 6) END, 'n' || i
       FROM generate_series(1, 300) i;
       INSERT INTO codes (code, ref, tag, note) VALUES ('k', '${REF(1)}', 'ab', 'plain'),
         (E'k\\t', '${REF(2)}', 'a  b', 'tab'), ('k ', '${REF(3)}', '', 'space'), ('k', '${REF(4)}', NULL, 'twin');
       CREATE TABLE stamps (day date NOT NULL, at timestamptz NOT NULL, amount numeric(8,2) NOT NULL, tag bytea NOT NULL,
         t time NOT NULL, note text, PRIMARY KEY (day, at, amount, tag, t));
       INSERT INTO stamps SELECT date '2024-01-01' + i % 7, timestamptz '2024-02-29 23:59:59.5+05' + i * interval '61.25 seconds',
         (i % 13) * 1.25, decode(lpad(to_hex(i % 300), 4, '0'), 'hex'), time '10:00' + i * interval '1.5 seconds', 'n' || i
       FROM generate_series(1, 200) i`,
    );
    runProducer(app, stops);
    const consumer = await startTestConsumer(app, 'peer');
    stops.push(() => consumer.stop());
    const count = async (t: string) =>
      Number((await mysqlRows(env.mysql.url, `SELECT COUNT(*) AS n FROM ${t}`).catch(() => []))[0]?.n);
    await waitUntil(async () => (await count('codes')) === 304 && (await count('stamps')) === 200, {
      what: 'the 304 + 200 rows at MariaDB',
      timeoutMs: 120_000,
    });
    const [collation] = await mysqlRows(
      env.mysql.url,
      "SELECT COLLATION_NAME AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'codes' AND COLUMN_NAME = 'code'",
    );
    expect(collation?.c).toBe('utf8mb4_nopad_bin');

    const clean = await reconcile(deps, 'peer', { chunkSize: 40 });
    expect(clean.drift).toBe(false);
    // every chunk agreed by its range hashes: the char values' padding and the keys' order alike
    expect(clean.tables[0]).toMatchObject({ compared: 304, chunks: 8, chunksRead: 0 });
    expect(clean.tables[1]).toMatchObject({
      table: 'public.stamps',
      compared: 200,
      chunks: 6, // 5 full chunks, then the empty end
      chunksRead: 0,
    });

    // one value of each newly hashed type changed at the target
    await mysqlRows(env.mysql.url, "UPDATE codes SET tag = 'xb    ' WHERE code = 'k' AND ref = ?", [REF(1)]);
    await mysqlRows(env.mysql.url, "UPDATE codes SET code = 'k  ' WHERE code = 'k ' AND ref = ?", [REF(3)]);
    await mysqlRows(env.mysql.url, 'UPDATE codes SET ref = ? WHERE code = ? AND ref = ?', [
      REF(9),
      'k\t',
      REF(2),
    ]);
    for (const c of STAMP_CHANGES)
      await mysqlRows(env.mysql.url, `UPDATE stamps SET ${c.column} = ${c.my} WHERE note = ?`, [c.note]);
    const stampKeys = (sql: string) =>
      withReconcileClient(app.pg, env.source.url, async (c) =>
        (await c.query<{ k: string }>(sql)).rows.map((r) => JSON.stringify(JSON.parse(r.k))).sort(),
      );
    const notes = STAMP_CHANGES.map((c) => `'${c.note}'`).join(', ');
    const before = await stampKeys(`SELECT ${STAMP_KEY} AS k FROM stamps WHERE note IN (${notes})`);
    const changed = await stampKeys(
      STAMP_CHANGES.map(
        (c) =>
          `SELECT ${STAMP_KEY.replace(new RegExp(`\\b${c.column}::text`), `(${c.pg})::text`)} AS k FROM stamps WHERE note = '${c.note}'`,
      ).join(' UNION ALL '),
    );
    const found = await reconcile(deps, 'peer', { chunkSize: 40 });
    const t = found.tables[0]!;
    expect({
      missing: [...t.samples.missing].sort(),
      extra: [...t.samples.extra].sort((a, b) => a.key.localeCompare(b.key)),
      differing: t.samples.differing,
      unsettled: t.unsettled,
    }).toEqual({
      missing: [key('k\t', REF(2)), key('k ', REF(3))].sort(),
      extra: [
        { key: key('k\t', REF(9)), owned: true },
        { key: key('k  ', REF(3)), owned: true },
      ].sort((a, b) => a.key.localeCompare(b.key)),
      differing: [{ key: key('k', REF(1)), columns: ['tag'] }],
      unsettled: 0,
    });
    // only the chunks holding the changes were read row by row
    expect(t.chunksRead).toBeGreaterThanOrEqual(1);
    expect(t.chunksRead).toBeLessThanOrEqual(2);
    const st = found.tables[1]!;
    expect({
      missing: [...st.samples.missing].sort(),
      extra: st.samples.extra.map((e) => e.key).sort(),
      owned: st.samples.extra.every((e) => e.owned),
      differing: st.differing,
      unsettled: st.unsettled,
    }).toEqual({ missing: before, extra: changed, owned: true, differing: 0, unsettled: 0 });
    expect(before).toHaveLength(5);
    expect(st.chunksRead).toBeLessThan(st.chunks);

    const repaired = await reconcile(deps, 'peer', { chunkSize: 40, repair: true });
    expect(repaired.tables[0]!.repaired).toMatchObject({ fed: 3, removed: 2 });
    expect(repaired.tables[1]!.repaired).toMatchObject({ fed: 5, removed: 5 });
    const again = await waitUntil(
      async () => {
        const r = await reconcile(deps, 'peer', { chunkSize: 40 });
        return !r.drift && !r.undecided && r.tables.every((x) => x.chunksRead === 0) && r;
      },
      { what: 'the repaired target to agree chunk by chunk', timeoutMs: 120_000 },
    );
    expect(again.tables[0]).toMatchObject({ compared: 304, chunksRead: 0 });
    expect(again.tables[1]).toMatchObject({ compared: 200, chunksRead: 0 });
  }, 400_000);
});
