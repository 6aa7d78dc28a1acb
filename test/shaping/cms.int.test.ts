// Shaped targets on the real stack (issue 16). A CMS-like peer (`fe_users`: its own auto-increment
// uid, renamed and computed columns, a constant, matched by email case-insensitively, soft delete,
// filter `is_active && !is_blocked`), with a row the CMS made itself that a source user adopts and
// one that no source row matches; and a peer installation receiving only chosen columns of the
// active users. Random concurrent writes move users in and out of the filter, change and swap
// emails, activate users whose TOASTed bio the update leaves unchanged, insert and delete; the CMS
// consumer is killed (SIGKILL) mid-way and started again. Both end equal to the mapped, filtered
// source, computed by an independent SQL query on the source.
import { readFileSync, writeFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { cmsTarget, cmsTableSql } from '../../dev/cli/commands/demo-shaping.ts';
import { parseConfig } from '../../pipeline/config/load.ts';
import { cleanupAfterEach, stackUrls, waitUntil } from '../support/index.ts';
import {
  deadLetters,
  dropPipelineEnv,
  pipelineEnv,
  query,
  runInProcess,
  spawnCli,
  testApp,
  type PipelineEnv,
} from '../support/pipeline.ts';
import { CMS_SEED, randomWritesWithKill } from './random-writer.ts';

const urls = stackUrls();
const cleanups = cleanupAfterEach();

const INSTALL = {
  name: 'install',
  type: 'postgres',
  table: 'install_users',
  mapping: { include: ['id', 'email', 'username', 'city'], filter: 'is_active' },
};

/** What the CMS must hold, straight from the source (not through the code under test). */
const CMS_EXPECTED = `SELECT lower(email) AS email, username AS login, concat_ws(' ', first_name, middle_name, last_name) AS name,
  NOT is_active AS disable, 7::bigint::text AS pid, md5(coalesce(bio, '')) AS bio
  FROM users WHERE is_active AND NOT is_blocked ORDER BY 1`;
const CMS_ACTUAL = `SELECT lower(email) AS email, login, name, disable, pid::text AS pid, md5(coalesce(bio, '')) AS bio
  FROM fe_users f WHERE NOT deleted AND EXISTS (SELECT 1 FROM fe_users_pgcdc_links l WHERE l._pgcdc_target_key = f.uid::text) ORDER BY 1`;
const INSTALL_EXPECTED = 'SELECT id::text, email, username, city FROM users WHERE is_active ORDER BY id';
const INSTALL_ACTUAL = 'SELECT id::text, email, username, city FROM install_users ORDER BY id';

/** The number of rows when the two queries agree; otherwise throws naming the rows that differ. */
async function equal(e: PipelineEnv, expected: string, actual: string) {
  const [a, b] = await Promise.all([query(e.source.url, expected), query(e.peer.url, actual)]);
  const want = a.map((r) => JSON.stringify(r));
  const have = b.map((r) => JSON.stringify(r));
  if (want.join('\n') === have.join('\n')) return a.length;
  const missing = want.filter((r) => !have.includes(r));
  const extra = have.filter((r) => !want.includes(r));
  throw new Error(
    `${want.length} rows expected, ${have.length} held; missing ${JSON.stringify(missing.slice(0, 5))}, unexpected ${JSON.stringify(extra.slice(0, 5))}`,
  );
}

it('a CMS-shaped peer and a peer installation end equal to the mapped, filtered source', async () => {
  const e = await pipelineEnv(urls, 'shape');
  // the last cleanup to run: after the pipeline and the writer stopped
  cleanups.push(() => dropPipelineEnv(e, testApp(e.config).kafka));
  const raw = parse(readFileSync(e.configFile, 'utf8')) as Record<string, unknown>;
  raw.targets = [
    cmsTarget(e.peer.url), // the demo's CMS (docs/shaping.md)
    { ...INSTALL, url: e.peer.url },
  ];
  writeFileSync(e.configFile, stringify(raw));
  e.config = parseConfig(raw);
  const config = e.config;
  // The CMS's own table: its uid, its rows (one the shop's user 1 adopts, one nobody matches).
  await query(
    e.peer.url,
    cmsTableSql([
      { email: 'twin@x.io', login: 'cms-twin', name: 'Old' },
      { email: 'foreign@cms.local', login: 'cms-only', name: 'Keep' },
    ]),
  );
  await query(e.source.url, CMS_SEED);
  const app = testApp(config);
  const pipeline = await runInProcess(app, { targets: ['install'] });
  cleanups.push(() => pipeline.stop());
  let cms = spawnCli(['consume', '-c', e.configFile, '--target', 'cms']);
  cleanups.push(() => cms.kill('SIGTERM'));
  const synced = () => equal(e, CMS_EXPECTED, CMS_ACTUAL);
  await waitUntil(synced, { what: 'the CMS to hold the seeded active users', timeoutMs: 120_000 });
  const [twin] = await query<{ uid: string; login: string }>(
    e.peer.url,
    "SELECT uid::text, login FROM fe_users WHERE lower(email) = 'twin@x.io'",
  );
  expect(twin).toEqual({ uid: '1', login: 'twin' }); // adopted: its own uid kept, its columns now the shop's

  const run = await randomWritesWithKill(
    e.source.url,
    cms,
    () => spawnCli(['consume', '-c', e.configFile, '--target', 'cms']),
    cleanups,
  );
  cms = run.consumer;
  const { txns } = run;

  const rows = await waitUntil(synced, {
    what: `the CMS to equal the filtered source (${txns} txns)`,
    timeoutMs: 180_000,
  }).catch((err: Error) => {
    throw new Error(`${err.message}\nthe CMS consumer's last output:\n${cms.output().slice(-6000)}`, {
      cause: err,
    });
  });
  const installed = await waitUntil(() => equal(e, INSTALL_EXPECTED, INSTALL_ACTUAL), {
    what: 'the installation to equal the active users',
    timeoutMs: 120_000,
  });
  expect(rows).toBeGreaterThan(5);
  expect(installed).toBeGreaterThan(5);
  // owned rows only: the CMS's own row is untouched; only the chosen columns went to the installation
  expect(
    await query(e.peer.url, "SELECT login, name, deleted FROM fe_users WHERE email = 'foreign@cms.local'"),
  ).toEqual([{ login: 'cms-only', name: 'Keep', deleted: false }]);
  const cols = await query<{ column_name: string }>(
    e.peer.url,
    "SELECT column_name FROM information_schema.columns WHERE table_name = 'install_users' AND column_name NOT LIKE '\\_pgcdc%' ORDER BY ordinal_position",
  );
  expect(cols.map((c) => c.column_name)).toEqual(['id', 'email', 'username', 'city']);
  expect(await query(e.peer.url, 'SELECT DISTINCT pid FROM fe_users WHERE uid <> 2')).toEqual([{ pid: '7' }]);
  expect(await deadLetters(app.kafka, e, 'cms')).toEqual([]);
  expect(await deadLetters(app.kafka, e, 'install')).toEqual([]);
}, 600_000);
