// Range hashes at MariaDB for what was read row by row before (ops/reconcile/mysql-hash.ts): a
// table keyed by (varchar, uuid) with a char(n) column, synced by the real pipeline into a table
// the sink creates (its key under utf8mb4_nopad_bin, which orders by bytes as the source's "C"
// order does, trailing spaces and tabs counted). Keys chosen where other orders disagree ('B'
// before 'a' in byte order, 'k' < 'k\t' < 'k ', accents, 4-byte UTF-8) and padded char values.
// Clean: every chunk agrees by its hashes, none is read row by row. Then one value of each newly
// hashed type is changed at the target (the char column, the varchar key, the uuid key): each
// is found (the hashes of its chunk differ, the chunk is read row by row), exactly those, and
// --repair brings the target back, after which every chunk agrees by its hashes again.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { envelopeTemplate } from '../../ops/contract/index.ts';
import { writeContract } from '../../ops/contract/files.ts';
import { generateContract } from '../../ops/contract/generate.ts';
import { reconcile } from '../../ops/reconcile/index.ts';
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

/** A contract directory with the contract of public.codes (as `pgcdc contract generate` writes it). */
function codesContracts(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'pgcdc-rec-keys-'));
  const shape = {
    schema: 'public',
    table: 'codes',
    columns: [
      { name: 'code', type: 'character varying(40)', notNull: true },
      { name: 'ref', type: 'uuid', notNull: true },
      { name: 'tag', type: 'character(6)', notNull: false },
      { name: 'note', type: 'text', notNull: false },
    ],
    primaryKey: ['code', 'ref'],
    replicaIdentity: 'd',
    identityIndex: [],
  };
  writeContract(dir, 'codes', generateContract(shape, envelopeTemplate()), false);
  return dir;
}

const key = (code: string, ref: string) => JSON.stringify([code, ref]);

describe('reconcile range hashes at MariaDB: char(n), varchar and uuid keys', () => {
  it('a clean target reads no chunk row by row; one changed value of each type is found and repaired', async () => {
    const env = await mysqlPipelineEnv(
      stackUrls(),
      'rec_myk',
      {},
      {
        source: { tables: ['public.codes'], contracts: codesContracts() },
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
         (E'k\\t', '${REF(2)}', 'a  b', 'tab'), ('k ', '${REF(3)}', '', 'space'), ('k', '${REF(4)}', NULL, 'twin')`,
    );
    runProducer(app, stops);
    const consumer = await startTestConsumer(app, 'peer');
    stops.push(() => consumer.stop());
    await waitUntil(
      async () =>
        Number((await mysqlRows(env.mysql.url, 'SELECT COUNT(*) AS n FROM codes').catch(() => []))[0]?.n) ===
        304,
      { what: 'the 304 rows at MariaDB', timeoutMs: 120_000 },
    );
    const [collation] = await mysqlRows(
      env.mysql.url,
      "SELECT COLLATION_NAME AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'codes' AND COLUMN_NAME = 'code'",
    );
    expect(collation?.c).toBe('utf8mb4_nopad_bin');

    const clean = await reconcile(deps, 'peer', { chunkSize: 40 });
    expect(clean.drift).toBe(false);
    // every chunk agreed by its range hashes: the char values' padding and the keys' order alike
    expect(clean.tables[0]).toMatchObject({ compared: 304, chunks: 8, chunksRead: 0 });

    // one value of each newly hashed type changed at the target
    await mysqlRows(env.mysql.url, "UPDATE codes SET tag = 'xb    ' WHERE code = 'k' AND ref = ?", [REF(1)]);
    await mysqlRows(env.mysql.url, "UPDATE codes SET code = 'k  ' WHERE code = 'k ' AND ref = ?", [REF(3)]);
    await mysqlRows(env.mysql.url, 'UPDATE codes SET ref = ? WHERE code = ? AND ref = ?', [
      REF(9),
      'k\t',
      REF(2),
    ]);
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

    const repaired = await reconcile(deps, 'peer', { chunkSize: 40, repair: true });
    expect(repaired.tables[0]!.repaired).toMatchObject({ fed: 3, removed: 2 });
    const again = await waitUntil(
      async () => {
        const r = await reconcile(deps, 'peer', { chunkSize: 40 });
        return !r.drift && !r.undecided && r.tables[0]!.chunksRead === 0 && r;
      },
      { what: 'the repaired target to agree chunk by chunk', timeoutMs: 120_000 },
    );
    expect(again.tables[0]).toMatchObject({ compared: 304, chunksRead: 0 });
  }, 400_000);
});
