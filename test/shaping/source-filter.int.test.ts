// The source filter on the real stack (source.filter, producers/source-filter.ts): only active,
// unblocked users enter Kafka. Rows written before the start are fed by the snapshot through the
// same predicate; then users are activated by updates that leave their 12 kB incompressible bio
// (TOASTed, not sent by pgoutput) unchanged, blocked (leaving: a delete for every target),
// re-activated, changed, deleted and inserted inside and outside the filter, while the producer is
// SIGKILLed once. An unmapped peer ends equal to the filtered source, bios included, compared with
// independent SQL; nothing is dead-lettered.
import { readFileSync, writeFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
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
  type CliChild,
} from '../support/pipeline.ts';

const urls = stackUrls();
const cleanups = cleanupAfterEach();

const COLS = "id::text, email, city, is_active, is_blocked, md5(coalesce(bio, '')) AS bio";
const EXPECTED = `SELECT ${COLS} FROM users WHERE is_active AND NOT is_blocked ORDER BY id`;
const ACTUAL = `SELECT ${COLS} FROM users ORDER BY id`;
const BIG_BIO = "(SELECT string_agg(md5(random()::text || g::text), '') FROM generate_series(1, 400) g)";

it('only the filtered rows reach the peer, whole, through snapshot, entering and leaving updates and a producer kill', async () => {
  const e = await pipelineEnv(urls, 'srcfilter', { source: { filter: 'is_active && !is_blocked' } });
  const raw = parse(readFileSync(e.configFile, 'utf8')) as Record<string, unknown>;
  e.config = parseConfig(raw);
  expect(e.config.source.filter).toBe('is_active && !is_blocked');
  const app = testApp(e.config);
  cleanups.push(() => dropPipelineEnv(e, app.kafka));
  await query(
    e.source.url,
    `INSERT INTO users (email, username, is_active, is_blocked, city, bio)
     SELECT 's' || i || '@x.io', 'u' || i, i % 2 = 0, i % 9 = 0, 'c' || i,
       CASE WHEN i % 3 = 0 THEN ${BIG_BIO} ELSE 'short' END FROM generate_series(1, 90) i`,
  );
  writeFileSync(e.configFile, stringify(raw));
  let producer: CliChild | undefined = spawnCli(['produce', '-c', e.configFile]);
  cleanups.push(() => producer?.kill('SIGKILL'));
  const consumers = await runInProcess(app, { producer: false });
  cleanups.push(() => consumers.stop());
  const equal = async () => {
    const [a, b] = await Promise.all([query(e.source.url, EXPECTED), query(e.peer.url, ACTUAL)]);
    return JSON.stringify(a) === JSON.stringify(b) ? a.length : undefined;
  };
  const seeded = await waitUntil(equal, { what: 'the snapshot, filtered', timeoutMs: 120_000 });
  expect(seeded).toBeGreaterThan(10);

  const step = async (sql: string) => (await query(e.source.url, sql), undefined);
  // the TOAST trap: activations that leave the large bio unchanged
  const [{ n: activations } = { n: '0' }] = await query<{ n: string }>(
    e.source.url,
    `WITH a AS (UPDATE users SET is_active = true WHERE NOT is_active AND NOT is_blocked AND length(bio) > 4000 AND id % 2 = 1 RETURNING 1)
     SELECT count(*)::text AS n FROM a`,
  );
  expect(Number(activations)).toBeGreaterThan(3);
  await step('UPDATE users SET is_blocked = true WHERE id % 5 = 1'); // leaving
  await producer.kill('SIGKILL');
  producer = undefined;
  await step("UPDATE users SET city = 'moved' WHERE id % 4 = 0"); // members and non-members
  await step('UPDATE users SET is_active = false WHERE id % 6 = 0'); // leaving, bio unchanged
  producer = spawnCli(['produce', '-c', e.configFile]);
  await step('UPDATE users SET is_active = true, is_blocked = false WHERE id % 12 = 0'); // entering again
  await step('DELETE FROM users WHERE id % 7 = 0');
  await step(
    `INSERT INTO users (email, username, is_active, bio) VALUES ('in@x.io', 'in', true, ${BIG_BIO}), ('out@x.io', 'out', false, 'x')`,
  );
  await step("UPDATE users SET is_active = true WHERE email = 'out@x.io'"); // enters after its insert was dropped

  const rows = await waitUntil(equal, { what: 'the peer to equal the filtered source', timeoutMs: 180_000 });
  expect(rows).toBeGreaterThan(10);
  expect(await deadLetters(app.kafka, e)).toEqual([]);
  const [outside] = await query<{ n: string }>(
    e.peer.url,
    'SELECT count(*)::text AS n FROM users WHERE NOT is_active OR is_blocked',
  );
  expect(outside!.n).toBe('0');
}, 420_000);
