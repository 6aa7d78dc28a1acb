// A mapping per table on the real stack: one target receives users, groups and memberships, with
// its own mapping for users (chosen columns, filter is_active) and for groups (a rename, a computed
// column, a column left out), and memberships as the exact copy. Rows written before the start are
// fed by the snapshot, later writes move users in and out of the filter and rename groups; each
// table ends equal to the mapped, filtered source, computed by independent SQL. `pgcdc check`
// prints each table's shape and names a problem of one table's mapping with the table.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { parseConfig } from '../../pipeline/config/load.ts';
import { compareFixtureTables, createFixtureTables, fixtureContractDir } from '../../dev/tables/index.ts';
import { sourceTopicsOf } from '../../pipeline/config/schema.ts';
import { cleanupAfterEach, stackUrls, waitUntil } from '../support/index.ts';
import { configVariant } from '../support/ops.ts';
import { deadLetters, pipelineEnv, query, runCli, runInProcess, testApp } from '../support/pipeline.ts';

const urls = stackUrls();
const cleanups = cleanupAfterEach();

const MAPPING = [
  { table: 'public.users', include: ['id', 'email', 'is_active'], filter: 'is_active' },
  {
    table: 'groups',
    rename: { name: 'title' },
    exclude: ['tags', 'created_at'],
    computed: { label: 'name + "!"' },
  },
];
const EXPECTED = {
  users: 'SELECT id::text, email, is_active FROM users WHERE is_active ORDER BY id',
  groups: "SELECT id::text, name AS title, description, name || '!' AS label FROM groups ORDER BY id",
};
const ACTUAL = {
  users: 'SELECT id::text, email, is_active FROM users ORDER BY id',
  groups: 'SELECT id::text, title, description, label FROM groups ORDER BY id',
};

it('each table gets its own shape; a table without a mapping is the exact copy', async () => {
  const contracts = fixtureContractDir();
  const e = await pipelineEnv(urls, 'pertable', {
    source: { tables: ['public.users', 'public.groups', 'public.memberships'], contracts },
  });
  cleanups.push(() => e.drop());
  const raw = parse(readFileSync(e.configFile, 'utf8')) as { targets: Record<string, unknown>[] };
  raw.targets[0]!.mapping = MAPPING;
  writeFileSync(e.configFile, stringify(raw));
  const config = parseConfig(raw, {}, 'test config', path.dirname(e.configFile));
  const file = e.configFile;
  await createFixtureTables(e.source.url);
  await query(
    e.source.url,
    `INSERT INTO users (email, username, is_active) SELECT 's' || i || '@x.io', 'u' || i, i % 2 = 0 FROM generate_series(1, 60) i;
     INSERT INTO groups (name, description, tags) SELECT 'g' || i, 'd' || i, ARRAY['t'] FROM generate_series(1, 10) i;
     INSERT INTO memberships (user_id, group_id) SELECT u.id, g.id FROM users u JOIN groups g ON (u.id + g.id) % 5 = 0`,
  );
  const app = testApp(config);
  cleanups.push(async () => {
    const admin = app.kafka.admin();
    await admin.connect();
    for (const t of sourceTopicsOf(config.kafka, config.source)) await admin.deleteTopic(t).catch(() => 0);
    await admin.disconnect();
  });
  const pipeline = await runInProcess(app);
  cleanups.push(() => pipeline.stop());

  const equal = async (table: 'users' | 'groups') => {
    const [a, b] = await Promise.all([
      query(e.source.url, EXPECTED[table]),
      query(e.peer.url, ACTUAL[table]),
    ]);
    return JSON.stringify(a) === JSON.stringify(b);
  };
  const memberships = async () =>
    (await compareFixtureTables(e.source.url, e.peer.url, contracts, ['public.memberships']))[
      'public.memberships'
    ]!.equal;
  const allEqual = async () => (await equal('users')) && (await equal('groups')) && (await memberships());
  await waitUntil(allEqual, { what: 'the snapshot of the three tables, shaped', timeoutMs: 120_000 });

  await query(
    e.source.url,
    `UPDATE users SET is_active = NOT is_active WHERE id % 3 = 0;
     UPDATE users SET email = 'new' || id || '@x.io' WHERE id % 4 = 0;
     UPDATE groups SET name = name || '-renamed' WHERE id % 2 = 0;
     DELETE FROM users WHERE id % 7 = 0;
     DELETE FROM groups WHERE id = 3;
     INSERT INTO users (email, username, is_active) VALUES ('late@x.io', 'late', true), ('off@x.io', 'off', false)`,
  );
  await waitUntil(allEqual, { what: 'the live changes, shaped per table', timeoutMs: 120_000 });
  const [users] = await query<{ n: string }>(e.peer.url, 'SELECT count(*)::text AS n FROM users');
  expect(Number(users!.n)).toBeGreaterThan(10);
  const cols = await query<{ table_name: string; cols: string }>(
    e.peer.url,
    `SELECT table_name, string_agg(column_name, ',' ORDER BY ordinal_position) AS cols FROM information_schema.columns
      WHERE table_schema = 'public' AND table_name IN ('users', 'groups') AND column_name NOT LIKE '\\_pgcdc%' GROUP BY 1 ORDER BY 1`,
  );
  expect(cols).toEqual([
    { table_name: 'groups', cols: 'id,title,description,label' },
    { table_name: 'users', cols: 'id,email,is_active' },
  ]);
  expect(await deadLetters(app.kafka, e)).toEqual([]);

  // pgcdc check: each table's shape, with the table named; a problem names its table
  const ok = await runCli(['check', '-c', file]);
  expect(ok.stdout).toContain(
    'target peer (public.users): columns id bigint, email text, is_active boolean; key (id); filter is_active; deletePolicy delete',
  );
  expect(ok.stdout).toContain(
    'target peer (public.groups): columns id bigint, title text <- name, description text, label text = name + "!"; key (id)',
  );
  expect(ok.stdout).not.toMatch(/target peer \(public\.memberships\)/);
  expect(ok.code, ok.stdout + ok.stderr).toBe(0);
  const bad = configVariant(file, (raw) => {
    const t = (raw.targets as { mapping: Record<string, unknown>[] }[])[0]!;
    t.mapping[1] = { table: 'groups', include: ['id', 'email'] };
  });
  const r = await runCli(['check', '-c', bad]);
  expect(r.code).toBe(1);
  expect(r.stdout).toMatch(
    /^ERROR +target\.peer\.shape +target peer \(public\.groups\): mapping\.include: unknown column "email" \(not in the contract of groups\)/m,
  );
}, 300_000);
