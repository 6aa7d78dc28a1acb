// Several tables per pipeline (docs/tables.md) on the real stack: users, groups and memberships
// (composite key) in one publication, one slot, one topic each. Rows written before the start are
// fed by the snapshot (per table), random concurrent writes follow while the producer is SIGKILLed
// twice; the peer that receives every table ends equal table by table, a target that takes only
// groups (placed under another name) gets groups and nothing else, and nothing is dead-lettered.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify } from 'yaml';
import { compareFixtureTables, createFixtureTables, fixtureContractDir } from '../../dev/tables/index.ts';
import { compareTables, type CompareResult } from '../../dev/verify/compare.ts';
import type { App } from '../../pipeline/compose.ts';
import { parseConfig } from '../../pipeline/config/load.ts';
import { sourceTopicsOf } from '../../pipeline/config/schema.ts';
import { loadContract } from '../../schemas/contract.ts';
import { cleanupAfterEach } from '../support/cleanup.ts';
import { freshDatabase, TEST_CLIENT_TIMEOUTS } from '../support/database.ts';
import { stackUrls, waitUntil } from '../support/index.ts';
import {
  deadLetters,
  pipelineEnv,
  query,
  runInProcess,
  spawnCli,
  testApp,
  writerLoop,
  type CliChild,
  type PipelineEnv,
} from '../support/pipeline.ts';

const urls = stackUrls();
const cleanups = cleanupAfterEach();

/** Errors two concurrent writers cause each other (deadlock, a row gone under them): retried. */
const RACES = new Set(['40P01', '23503', '23505', '40001']);

/** Random transactions over the three tables until stopped; counts what committed. */
function tablesWriter(url: string, seed: number) {
  const counts = { txns: 0, aborted: 0 };
  let x = seed;
  const rand = () => ((x = (x * 1103515245 + 12345) % 2147483648), x / 2147483648);
  let n = 0;
  const steps: ((c: pg.Client) => Promise<unknown>)[] = [
    (c) => c.query('INSERT INTO users (email, username) VALUES ($1, $2)', [`w${seed}-${++n}@x.io`, `u${n}`]),
    (c) =>
      c.query('INSERT INTO groups (name, tags) VALUES ($1, $2)', [`g${seed}-${++n}`, ['a', null, 'b"c']]),
    (c) =>
      c.query(
        `INSERT INTO memberships (user_id, group_id, role)
         SELECT u.id, g.id, $1 FROM (SELECT id FROM users ORDER BY random() LIMIT 1) u,
                                  (SELECT id FROM groups ORDER BY random() LIMIT 1) g
         ON CONFLICT DO NOTHING`,
        [rand() < 0.5 ? 'member' : 'admin'],
      ),
    (c) =>
      c.query(
        "UPDATE memberships SET role = 'r' || floor(random() * 10)::text, note = repeat('n', $1) WHERE (user_id, group_id) IN (SELECT user_id, group_id FROM memberships ORDER BY random() LIMIT 2)",
        [Math.floor(rand() * 50)],
      ),
    // a key-changing update of a composite key: delete of the old key, create of the new one
    (c) =>
      c.query(
        `UPDATE memberships SET group_id = (SELECT id FROM groups ORDER BY random() LIMIT 1)
          WHERE (user_id, group_id) IN (SELECT user_id, group_id FROM memberships ORDER BY random() LIMIT 1)`,
      ),
    (c) =>
      c.query(
        "UPDATE groups SET description = 'd' || floor(random() * 100)::text WHERE id IN (SELECT id FROM groups ORDER BY random() LIMIT 1)",
      ),
    (c) =>
      c.query(
        'DELETE FROM memberships WHERE (user_id, group_id) IN (SELECT user_id, group_id FROM memberships ORDER BY random() LIMIT 1)',
      ),
    // cascades to the user's memberships
    (c) => c.query('DELETE FROM users WHERE id IN (SELECT id FROM users ORDER BY random() LIMIT 1)'),
  ];
  return writerLoop({ connectionString: url, ...TEST_CLIENT_TIMEOUTS }, counts, async (c) => {
    await c.query('BEGIN');
    try {
      for (let i = 0; i < 4; i++) await steps[Math.floor(rand() * steps.length)]!(c);
      await c.query('COMMIT');
      counts.txns++;
    } catch (err) {
      await c.query('ROLLBACK');
      if (!RACES.has((err as { code?: string }).code ?? '')) throw err;
      counts.aborted++;
    }
  });
}

async function seed(url: string): Promise<void> {
  await query(
    url,
    "INSERT INTO users (email, username) SELECT 's' || i || '@x.io', 's' || i FROM generate_series(1, 300) i",
  );
  await query(url, "INSERT INTO groups (name) SELECT 'group ' || i FROM generate_series(1, 40) i");
  await query(
    url,
    `INSERT INTO memberships (user_id, group_id, role)
     SELECT u.id, g.id, 'member' FROM users u JOIN groups g ON (u.id + g.id) % 7 = 0`,
  );
}

/** The pipeline's configuration with one more target (file and parsed config). */
function withTarget(e: PipelineEnv, target: Record<string, unknown>): PipelineEnv {
  const raw = parseYaml(readFileSync(e.configFile, 'utf8')) as { targets: unknown[] };
  raw.targets.push(target);
  writeFileSync(e.configFile, stringify(raw));
  return { ...e, config: parseConfig(raw, {}, 'test config', path.dirname(e.configFile)) };
}

describe('several tables in one pipeline', () => {
  it('users + groups + memberships under random concurrent writes and producer kills end equal; a one-table target gets only its table', async () => {
    const contracts = fixtureContractDir();
    const other = await freshDatabase(urls.adminUrl, 'tables_other');
    cleanups.push(() => other.drop());
    const base = await pipelineEnv(urls, 'tables', {
      source: {
        tables: ['public.users', 'public.groups', 'public.memberships'],
        contracts,
        snapshot: { batchSize: 100 },
      },
    });
    cleanups.push(() => base.drop());
    // a target that takes groups only, and places it under another name
    const e = withTarget(base, {
      name: 'teams',
      type: 'postgres',
      url: other.url,
      tables: [{ name: 'public.groups', table: 'teams' }],
    });
    await createFixtureTables(e.source.url);
    await seed(e.source.url);

    const app = testApp(e.config);
    const topics = sourceTopicsOf(e.config.kafka, e.config.source);
    cleanups.push(() => deleteTopics(app, topics));
    let child: CliChild | undefined = spawnCli(['produce', '-c', e.configFile]);
    cleanups.push(() => child?.kill('SIGKILL'));
    const consumers = await runInProcess(app, { producer: false, targets: ['peer', 'teams'] });
    cleanups.push(() => consumers.stop());
    const writers = [tablesWriter(e.source.url, 3), tablesWriter(e.source.url, 11)];
    cleanups.push(() => Promise.all(writers.map((w) => w.stop())));
    const peer = consumers.consumers[0]!;
    for (let round = 0; round < 2; round++) {
      child ??= spawnCli(['produce', '-c', e.configFile]);
      const applied = peer.status().applied;
      await waitUntil(() => peer.status().applied > applied + 200, {
        timeoutMs: 120_000,
        what: `events of the three tables to flow in round ${round}`,
      });
      await child.kill('SIGKILL');
      child = undefined;
    }
    child = spawnCli(['produce', '-c', e.configFile]);
    const counts = await Promise.all(writers.map((w) => w.stop()));
    expect(counts.reduce((n, c) => n + c.txns, 0)).toBeGreaterThan(20);

    let last: Record<string, CompareResult> = {};
    await waitUntil(
      async () => {
        last = await compareFixtureTables(e.source.url, e.peer.url, contracts);
        return Object.values(last).every((r) => r.equal);
      },
      {
        timeoutMs: 180_000,
        intervalMs: 500,
        what: `the peer to equal the source in every table: ${JSON.stringify(summary(last))}`,
      },
    ).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}; last comparison ${JSON.stringify(summary(last))}`);
    });
    const rows = Object.fromEntries(Object.entries(last).map(([t, r]) => [t, r.sourceRows]));
    expect(rows['public.memberships']).toBeGreaterThan(0);

    // the groups-only target: groups as `teams`, and no other table
    const groups = loadContract('groups', 'public', contracts);
    await waitUntil(
      async () =>
        (
          await compareTables(
            { url: e.source.url, schema: 'public', table: 'groups' },
            { url: other.url, schema: 'public', table: 'teams' },
            groups.columns,
          )
        ).equal,
      { timeoutMs: 120_000, intervalMs: 500, what: 'teams at the other peer to equal groups' },
    );
    const present = await query<{ t: string }>(
      other.url,
      "SELECT table_name::text AS t FROM information_schema.tables WHERE table_schema = 'public' AND table_name NOT LIKE 'teams%' ORDER BY 1",
    );
    expect(present.map((r) => r.t)).toEqual([]);
    expect(await deadLetters(app.kafka, e)).toEqual([]);
    expect(await deadLetters(app.kafka, e, 'teams')).toEqual([]);
    console.log(
      `three tables, producer killed twice: ${JSON.stringify(rows)} rows equal; writers ${counts.map((c) => `${c.txns} txns (${c.aborted} aborted)`).join(', ')}`,
    );
  }, 420_000);
});

function summary(r: Record<string, CompareResult>) {
  return Object.fromEntries(
    Object.entries(r).map(([t, c]) => [
      t,
      {
        equal: c.equal,
        source: c.sourceRows,
        peer: c.targetRows,
        missing: c.missing.slice(0, 3),
        extra: c.extra.slice(0, 3),
        different: c.different.slice(0, 3),
      },
    ]),
  );
}

async function deleteTopics(app: App, topics: string[]): Promise<void> {
  const admin = app.kafka.admin();
  await admin.connect();
  try {
    for (const t of topics) await admin.deleteTopic(t).catch(() => undefined);
  } finally {
    await admin.disconnect();
  }
}
