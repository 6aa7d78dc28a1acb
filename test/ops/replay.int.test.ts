// `pgcdc replay` against the real stack: refused while the target consumes, a dry run moves
// nothing and shows the first event of each partition, a replay to earliest / to a time re-applies
// exactly the expected number of events (counted by the target's applied counter, which the
// status topic carries across the consumer's restarts), and the peer still equals the source.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { App } from '../../pipeline/compose.ts';
import { groupFor } from '../../pipeline/config/schema.ts';
import type { KafkaAdminPort } from '../../pipeline/kafka/port.ts';
import type { ReplayPlan } from '../../ops/replay.ts';
import { stackUrls, waitUntil } from '../support/index.ts';
import {
  dropPipelineEnv,
  pipelineEnv,
  query,
  runProducer,
  testApp,
  waitForPeerEqual,
  type PipelineEnv,
  startTestConsumer,
} from '../support/pipeline.ts';
import { json, runCli } from '../support/ops.ts';

type JsonPlan = Omit<ReplayPlan, 'totalReplays' | 'totalSkips' | 'partitions'> & {
  totalReplays: string;
  totalSkips: string;
  partitions: {
    partition: number;
    current: string;
    next: string;
    replays: string;
    first?: { commitTime: string; op: string; lsn: string };
  }[];
};

let env: PipelineEnv;
let app: App;
let admin: KafkaAdminPort;
/** messages in the topic after the first test */
let total = 0;
/** the consumer the --force test leaves running (the forward-move test stops it) */
let running: { stop: () => Promise<unknown> } | undefined;
const stops: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  // no initial feed: it could race the first inserts and publish them once more (op r)
  env = await pipelineEnv(stackUrls(), 'replay', {
    source: { snapshot: { mode: 'never' } },
    operations: { statusIntervalMs: 200 },
  });
  app = testApp(env.config);
  admin = app.kafka.admin();
  await admin.connect();
});

afterAll(async () => {
  await admin.disconnect();
  await dropPipelineEnv(env, app.kafka, stops);
});

const group = () => groupFor(env.config.kafka, env.config.targets[0]!);

async function caughtUp(): Promise<boolean> {
  const [ends, committed] = await Promise.all([
    admin.topicOffsets(env.topic),
    admin.groupOffsets(group(), env.topic),
  ]);
  return ends.every((e) => committed.find((c) => c.partition === e.partition)?.offset === e.high);
}

/** Messages in the topic (no compaction happens within a test). */
async function held(): Promise<number> {
  return (await admin.topicOffsets(env.topic)).reduce((n, e) => n + Number(e.high - e.low), 0);
}

/** Runs the target until it applied `more` events beyond its restored counter and committed them. */
async function consumeMore(more: (restored: number) => number) {
  const consumer = await startTestConsumer(app, 'peer');
  const stop = () => consumer.stop();
  stops.push(stop);
  const restored = consumer.status().applied;
  const want = more(restored);
  await waitUntil(async () => consumer.status().applied >= want && (await caughtUp()), {
    what: `target to have applied ${want} events and committed them`,
    timeoutMs: 60_000,
  });
  const final = consumer.status().applied;
  await consumer.stop();
  stops.splice(stops.indexOf(stop), 1);
  return { restored, final };
}

const replay = (...args: string[]) => runCli(['replay', '-c', env.configFile, '--target', 'peer', ...args]);

it('replays to earliest and to a time: the expected events are re-applied, the peer stays equal', async () => {
  runProducer(app, stops);
  const consumer = await startTestConsumer(app, 'peer');
  const stopConsumer = () => consumer.stop();
  stops.push(stopConsumer);

  // 25 events: 20 inserts in one transaction, then 5 updates. The producer publishes at least
  // once (a restart under load publishes some again), so the counts below come from the topic.
  await query(
    env.source.url,
    "INSERT INTO users (email, username) SELECT 'r' || g || '@example.org', 'r' || g FROM generate_series(1, 20) g",
  );
  await query(env.source.url, "UPDATE users SET city = 'Oslo' WHERE id <= 5");
  await waitUntil(async () => (await held()) >= 25 && (await caughtUp()), { what: '25 events applied' });

  // refused while the target's consumer is in its group; nothing moves
  const refused = await replay('--to', 'earliest');
  expect(refused.code).not.toBe(0);
  expect(refused.stderr).toMatch(/consumer group \S+ has 1 active member/);
  expect(refused.stderr).toMatch(/--force/);
  expect(await caughtUp()).toBe(true);

  // the time boundary: everything before is in Kafka already, everything after is new
  await new Promise((r) => setTimeout(r, 20)); // distinct millisecond for Kafka timestamps
  const boundary = new Date();
  const before = await held();
  await query(
    env.source.url,
    "INSERT INTO users (email, username) SELECT 'late' || g || '@example.org', 'late' || g FROM generate_series(1, 10) g",
  );
  await waitUntil(async () => (await held()) >= before + 10 && (await caughtUp()), {
    what: '35 events applied',
  });
  await consumer.stop();
  stops.splice(stops.indexOf(stopConsumer), 1);
  const appliedAtStop = consumer.status().applied;
  await waitForPeerEqual(env);
  total = await held();
  const late = total - before;

  // dry run: the plan, the first event of each partition; no offset moves
  const offsets = await admin.groupOffsets(group(), env.topic);
  const dry = json<JsonPlan & { dryRun: boolean }>(await replay('--to', 'earliest', '--dry-run', '--json'));
  expect(dry.dryRun).toBe(true);
  expect(dry.totalReplays).toBe(String(total));
  for (const p of dry.partitions.filter((x) => x.replays !== '0')) {
    expect(p.next).toBe('0');
    expect(p.first?.commitTime).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(p.first?.lsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
  }
  const text = await replay('--to', 'earliest', '--dry-run');
  expect(text.code).toBe(0);
  expect(text.stdout).toMatch(/dry run: nothing moved/);
  expect(text.stdout).toMatch(new RegExp(`total: (up to )?${total} events would be applied again`));
  expect(await admin.groupOffsets(group(), env.topic)).toEqual(offsets);

  // replay to earliest: every event applied once more; the counters continue from the status topic
  const done1 = await replay('--to', 'earliest');
  expect(done1.code, done1.stderr).toBe(0);
  expect(done1.stdout).toMatch(new RegExp(`total: (up to )?${total} events will be applied again`));
  const first = await consumeMore((restored) => restored + total);
  expect(first.restored).toBe(appliedAtStop);
  expect(first.final - first.restored).toBe(total);
  await waitForPeerEqual(env);

  // replay to the time boundary: only the later inserts (10, or more if published twice)
  const dryTime = json<JsonPlan>(await replay('--to', boundary.toISOString(), '--dry-run', '--json'));
  expect(dryTime.totalReplays).toBe(String(late));
  expect(late).toBeGreaterThanOrEqual(10);
  for (const p of dryTime.partitions.filter((x) => x.replays !== '0')) {
    expect(p.first?.op).toBe('c');
    expect(Date.parse(p.first!.commitTime)).toBeGreaterThanOrEqual(boundary.getTime());
  }
  const done2 = await replay('--to', boundary.toISOString());
  expect(done2.code, done2.stderr).toBe(0);
  const second = await consumeMore((restored) => restored + late);
  expect(second.restored).toBe(first.final);
  expect(second.final - second.restored).toBe(late);
  const result = await waitForPeerEqual(env);
  expect(result.sourceRows).toBe(30);
});

it('--force moves the offsets of a running consumer, which re-applies from there', async () => {
  const consumer = await startTestConsumer(app, 'peer');
  stops.push(() => consumer.stop());
  running = consumer;
  await waitUntil(() => caughtUp(), { what: 'the consumer to be caught up' });
  const restored = consumer.status().applied;
  const forced = await replay('--to', 'earliest', '--force');
  expect(forced.code, forced.stderr).toBe(0);
  // one consumer, even when it rejoined before the commit and was removed once more (executeReplay)
  expect(forced.stdout).toMatch(/--force: removed 1 consumer\(s\) from /);
  await waitUntil(async () => consumer.status().applied >= restored + total && (await caughtUp()), {
    what: `the running consumer to re-apply ${total} events`,
    timeoutMs: 60_000,
  });
  // a batch the removed member was applying may be applied once more: never fewer, never lost
  expect(consumer.status().applied).toBeGreaterThanOrEqual(restored + total);
  await waitForPeerEqual(env);
});

it('--dry-run counts the events applied again, not the tombstones that follow deletes', async () => {
  await waitUntil(() => caughtUp(), { what: 'the consumer to be caught up' });
  const ends = await admin.topicOffsets(env.topic);
  const highs = (e: { high: bigint }[]) => e.reduce((n, x) => n + Number(x.high), 0);
  await query(env.source.url, 'DELETE FROM users WHERE id IN (SELECT id FROM users ORDER BY id LIMIT 3)');
  await waitForPeerEqual(env);
  // each delete is published as its event and a tombstone for compaction
  await waitUntil(async () => highs(await admin.topicOffsets(env.topic)) === highs(ends) + 6, {
    what: 'three deletes and their tombstones in the topic',
  });
  await waitUntil(() => caughtUp(), { what: 'the consumer to apply the deletes' });
  const to = ends.map((e) => `${e.partition}:${e.high}`).join(',');
  const dry = await replay('--to', to, '--dry-run');
  expect(dry.code, dry.stderr).toBe(0);
  expect(dry.stdout).toContain(
    'total: 3 events would be applied again (of 6 offsets: 3 tombstone(s), which follow deletes so compaction can drop the key and apply nothing)',
  );
});

it('a move forward skips events: previewed, refused without --yes (exit 2, nothing moves), done with it', async () => {
  await waitUntil(() => caughtUp(), { what: 'the consumer to be caught up' });
  await running!.stop();
  const before = await held();
  const committed = await admin.groupOffsets(group(), env.topic);
  await query(
    env.source.url,
    "INSERT INTO users (email, username) SELECT 'skip' || g || '@example.org', 'skip' || g FROM generate_series(1, 4) g",
  );
  await waitUntil(async () => (await held()) >= before + 4, { what: 'four new events in the topic' });
  const skipped = (await held()) - before;

  const dry = json<JsonPlan & { dryRun: boolean; moved: boolean }>(
    await replay('--to', 'latest', '--dry-run', '--json'),
  );
  expect(dry).toMatchObject({ dryRun: true, moved: false, totalSkips: String(skipped), totalReplays: '0' });

  const refused = await replay('--to', 'latest');
  expect(refused.code, refused.stderr).toBe(2);
  expect(refused.stdout).toMatch(new RegExp(`(up to )?${skipped} events would be SKIPPED`));
  expect(refused.stdout).toMatch(/SKIPS \d+/);
  expect(refused.stderr).toMatch(
    new RegExp(
      `skip (up to )?${skipped} events of target peer \\(never applied\\): not confirmed \\(no --yes\\)`,
    ),
  );
  const refusedJson = await replay('--to', 'latest', '--json');
  expect(refusedJson.code).toBe(2);
  expect(refusedJson.stdout).toBe('');
  expect(await admin.groupOffsets(group(), env.topic)).toEqual(committed);

  const done = json<JsonPlan & { moved: boolean }>(await replay('--to', 'latest', '--yes', '--json'));
  expect(done).toMatchObject({ moved: true, totalSkips: String(skipped) });
  expect(await caughtUp()).toBe(true);
});
