// `pgcdc dlq redrive` and `pgcdc replay` at a MariaDB target, through the CLI on the real stack:
// rows the target refuses (a CHECK, a value too long for a VARCHAR(n)) are dead-lettered; a
// redrive while the target still refuses them dead-letters them again and exits 1; once the table
// is fixed a redrive applies them in source order (the newest change of a row wins whatever the
// dead-letter topic's order) and exits 0; a redrive of an entry older than the row changes
// nothing. A replay to earliest moves the group back, the consumer applies every event again and
// the position guard keeps every row where it was: no row rewritten, no deleted row back, the
// peer equal to the source.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { App } from '../../pipeline/compose.ts';
import { groupFor } from '../../pipeline/config/schema.ts';
import type { KafkaAdminPort } from '../../pipeline/kafka/port.ts';
import { stackUrls, waitUntil } from '../support/index.ts';
import { json, runCli } from '../support/ops.ts';
import {
  dropPipelineEnv,
  query,
  runProducer,
  startTestConsumer,
  testApp,
  type Stops,
} from '../support/pipeline.ts';
import { mysqlPipelineEnv, mysqlRows, waitForMysqlEqual, type MysqlPipelineEnv } from './support.ts';

let env: MysqlPipelineEnv;
let app: App;
let admin: KafkaAdminPort;
const stops: Stops = [];

beforeAll(async () => {
  env = await mysqlPipelineEnv(
    stackUrls(),
    'my_ops',
    {},
    { source: { snapshot: { mode: 'never' } }, operations: { statusIntervalMs: 200 } },
  );
  app = testApp(env.config);
  admin = app.kafka.admin();
  await admin.connect();
  runProducer(app, stops);
});

afterAll(async () => {
  await admin?.disconnect();
  if (env) {
    await dropPipelineEnv(env, app.kafka, stops);
    await env.mysql.drop();
  }
});

const group = () => groupFor(env.config.kafka, env.config.targets[0]!);

async function caughtUp(): Promise<boolean> {
  const [ends, committed] = await Promise.all([
    admin.topicOffsets(env.topic),
    admin.groupOffsets(group(), env.topic),
  ]);
  return ends.every((e) => committed.find((c) => c.partition === e.partition)?.offset === e.high);
}

const cli = (...args: string[]) => runCli([...args, '-c', env.configFile, '--target', 'peer'], 90_000);

interface RedriveJson {
  complete: boolean;
  counts: { redriven: number; deadAgain: number; skipped: number; pending: number };
  redriven: { position: string; eventId: string }[];
}

const maria = (sql: string) => mysqlRows(env.mysql.url, sql);

it('dead letters of a MariaDB target: redriven again while refused (exit 1), then applied in source order (exit 0)', async () => {
  const consumer = await startTestConsumer(app, 'peer');
  const stop = () => consumer.stop();
  stops.push(stop);
  try {
    await deadLettersRedriven(consumer);
  } finally {
    await consumer.stop();
    stops.splice(stops.indexOf(stop), 1);
  }
}, 300_000);

async function deadLettersRedriven(consumer: Awaited<ReturnType<typeof startTestConsumer>>) {
  await query(
    env.source.url,
    "INSERT INTO users (id, email, username) VALUES (1, 'one@x.io', 'one'), (4, 'four@x.io', 'four')",
  );
  await waitUntil(async () => (await maria('SELECT id FROM users')).length === 2, {
    what: 'the first rows at the MariaDB peer',
  });
  await maria(
    "ALTER TABLE users ADD CONSTRAINT no_nowhere CHECK (city IS NULL OR city NOT LIKE 'Nowhere%'), MODIFY first_name VARCHAR(8) NULL",
  );
  await query(env.source.url, "UPDATE users SET city = 'Nowhere1' WHERE id = 1");
  await query(env.source.url, "UPDATE users SET city = 'Nowhere2' WHERE id = 1");
  await query(
    env.source.url,
    "INSERT INTO users (id, email, username, first_name) VALUES (2, 'two@x.io', 'two', 'much too long for eight')",
  );
  await query(env.source.url, 'DELETE FROM users WHERE id = 4');
  await query(env.source.url, "INSERT INTO users (id, email, username) VALUES (3, 'three@x.io', 'three')");
  await waitUntil(() => consumer.status().deadLettered === 3, {
    what: 'three dead letters',
    timeoutMs: 60_000,
  });
  await waitUntil(async () => (await maria('SELECT id FROM users ORDER BY id')).length === 2, {
    what: 'row 3 applied after the refused ones, row 4 deleted',
  });
  expect((await maria('SELECT id, city FROM users ORDER BY id')).map((r) => [r.id, r.city])).toEqual([
    ['1', null],
    ['3', null],
  ]);

  // still refused: every entry dead-lettered again, exit 1
  const again = await cli('dlq', 'redrive', '--json');
  expect(again.code, again.stderr).toBe(1);
  expect(json<RedriveJson>(again)).toMatchObject({
    complete: false,
    counts: { redriven: 0, deadAgain: 3, skipped: 0, pending: 0 },
  });
  const listed = json<{ entries: { redriven: boolean; reason: string; error: string }[] }>(
    await cli('dlq', 'list', '--json'),
  );
  expect(listed.entries).toHaveLength(6);
  expect(listed.entries.map((e) => e.reason)).toEqual(Array(6).fill('rejected'));
  expect(listed.entries.map((e) => e.error).join('\n')).toMatch(/no_nowhere/);
  expect(listed.entries.map((e) => e.error).join('\n')).toMatch(/too long/i);

  // fixed: the three entries dead-lettered again apply in source order (the first three were
  // redriven, as failures); the newest city wins
  await maria('ALTER TABLE users DROP CONSTRAINT no_nowhere, MODIFY first_name LONGTEXT NULL');
  const done = await cli('dlq', 'redrive', '--json');
  expect(done.code, done.stderr).toBe(0);
  expect(json<RedriveJson>(done)).toMatchObject({
    complete: true,
    counts: { redriven: 3, deadAgain: 0, skipped: 0, pending: 0 },
  });
  expect(
    (await maria('SELECT id, city, first_name FROM users ORDER BY id')).map((r) => [
      r.id,
      r.city,
      r.first_name,
    ]),
  ).toEqual([
    ['1', 'Nowhere2', null],
    ['2', null, 'much too long for eight'],
    ['3', null, null],
  ]);
  const after = json<{ entries: { redriven: boolean; position: string; key: { id: string } | null }[] }>(
    await cli('dlq', 'list', '--json'),
  );
  expect(after.entries.map((e) => e.redriven)).toEqual(Array(6).fill(true));
  await waitForMysqlEqual(env);

  // a later change lands; redriving the oldest entry once more changes nothing (position guard)
  await query(env.source.url, "UPDATE users SET city = 'Oslo' WHERE id = 1");
  await waitUntil(async () => (await maria('SELECT city FROM users WHERE id = 1'))[0]?.city === 'Oslo', {
    what: 'the later change at the MariaDB peer',
  });
  const oldest = after.entries.find((e) => String(e.key?.id) === '1')!.position; // Nowhere1
  const once = await cli('dlq', 'redrive', '--offset', oldest, '--json');
  expect(once.code, once.stderr).toBe(0);
  expect(json<RedriveJson>(once).counts.redriven).toBe(1);
  expect((await maria('SELECT city FROM users WHERE id = 1'))[0]?.city).toBe('Oslo');
  await waitForMysqlEqual(env);
  await waitUntil(() => caughtUp(), { what: 'the consumer to be caught up' });
}

it('replay at a MariaDB target: the group moves back, every event is applied again, no row moves backwards', async () => {
  const bookkeeping = () =>
    maria(
      'SELECT id, _pgcdc_lsn AS lsn, _pgcdc_seq AS seq, _pgcdc_event_id AS eid, _pgcdc_synced_at AS at FROM users ORDER BY id',
    );
  const before = await bookkeeping();
  const markers = await maria('SELECT id, _pgcdc_lsn AS lsn FROM users_pgcdc_deleted ORDER BY id');
  expect(markers.map((m) => m.id)).toEqual(['4']);
  const ends = await admin.topicOffsets(env.topic);
  const total = ends.reduce((n, e) => n + Number(e.high - e.low), 0);

  const consumer = await startTestConsumer(app, 'peer');
  const stop = () => consumer.stop();
  stops.push(stop);
  // refused while the target's consumer is in its group
  const refused = await cli('replay', '--to', 'earliest');
  expect(refused.code).not.toBe(0);
  expect(refused.stderr).toMatch(/active member/);
  await consumer.stop();
  stops.splice(stops.indexOf(stop), 1);
  const restoredAt = consumer.status().applied;

  // the events applied again: the offsets less the tombstones that follow deletes
  const dry = await cli('replay', '--to', 'earliest', '--dry-run');
  expect(dry.code, dry.stderr).toBe(0);
  const planned = /total: (\d+) events would be applied again/.exec(dry.stdout);
  expect(planned, dry.stdout).not.toBeNull();
  const moved = await cli('replay', '--to', 'earliest');
  expect(moved.code, moved.stderr).toBe(0);
  expect(await caughtUp()).toBe(false);

  const again = await startTestConsumer(app, 'peer');
  const stopAgain = () => again.stop();
  stops.push(stopAgain);
  expect(again.status().applied).toBe(restoredAt);
  const deadAtStart = again.status().deadLettered;
  const replays = Number(planned![1]);
  await waitUntil(async () => again.status().applied >= restoredAt + replays && (await caughtUp()), {
    what: `the consumer to apply the ${replays} replayed events (${total} offsets) and commit them`,
    timeoutMs: 90_000,
  });
  expect(again.status().applied - restoredAt).toBe(replays);
  expect(again.status().deadLettered).toBe(deadAtStart); // nothing refused this time
  // every row as it was: position, event id and write time untouched; the deleted row stays out
  expect(await bookkeeping()).toEqual(before);
  expect(await maria('SELECT id, _pgcdc_lsn AS lsn FROM users_pgcdc_deleted ORDER BY id')).toEqual(markers);
  await waitForMysqlEqual(env);
  await again.stop();
  stops.splice(stops.indexOf(stopAgain), 1);
}, 300_000);
