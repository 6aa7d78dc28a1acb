// The topic as the feed for new targets. The change topic is log-compacted by key and every
// delete is followed by a tombstone, so a target added long after the initial snapshot, whose
// consumer group starts at the earliest offset, reaches the source's state from the topic alone.
// The test topic cleans aggressively (small segments, low dirty ratio, no compaction lag) so the
// cleaner has a chance to run; the test waits a little for it but does not depend on it.
// Then `pgcdc snapshot --restart`, asked of the running producer (signal), feeds every row
// again: both targets stay equal (idempotent).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stackSettingsFromEnv } from '../../dev/stack/settings.ts';
import { startConsumer, type App } from '../../pipeline/compose.ts';
import type { Config } from '../../pipeline/config/schema.ts';
import type { TargetConsumer } from '../../consumers/runner.ts';
import { compareTables } from '../../dev/verify/compare.ts';
import { insertUsers, makeUser, rng } from '../../dev/verify/seed.ts';
import { loadContract } from '../../schemas/contract.ts';
import {
  freshDatabase,
  randomName,
  stackUrls,
  waitUntil,
  withClient,
  type FreshDatabase,
} from '../support/index.ts';
import {
  pipelineEnv,
  query,
  runProducer,
  spawnCli,
  testApp,
  waitForPeerEqual,
  type PipelineEnv,
} from '../support/pipeline.ts';
import { appliedByOp, checkpoint, explainKeys, perSecond, report, seedUsers } from '../support/snapshot.ts';

const ROWS = 10_000;
const urls = stackUrls();
let env: PipelineEnv;
let peer2: FreshDatabase;
let app: App;
let config2: Config;
const stops: (() => Promise<void>)[] = [];
const consumers: Record<string, TargetConsumer> = {};

beforeAll(async () => {
  env = await pipelineEnv(urls, 'snapfeed', {
    source: { snapshot: { batchSize: 1000 } },
    kafka: {
      brokers: urls.kafkaBrokers,
      topicPrefix: randomName('snapfeed'),
      partitions: 3,
      topicConfig: {
        'segment.ms': '1500',
        'min.cleanable.dirty.ratio': '0.01',
        'min.compaction.lag.ms': '0',
        'delete.retention.ms': '1000',
      },
    },
  });
  peer2 = await freshDatabase(urls.adminUrl, 'snapfeed_peer2');
  // Rows without TOASTed values: every update carries the full row (see the README's known limit).
  await seedUsers(env.source.url, ROWS, { largeBioRatio: 0 });
  const peer = env.config.targets[0]!;
  config2 = { ...env.config, targets: [peer, { ...peer, name: 'peer2', url: peer2.url }] };
  app = testApp(env.config);
});
afterAll(async () => {
  for (const stop of stops.reverse()) await stop();
  await env?.drop();
  await peer2?.drop();
});

const peer2Equal = () =>
  compareTables(
    { url: env.source.url, schema: 'public', table: 'users' },
    { url: peer2.url, schema: 'public', table: 'users' },
    loadContract().columns,
  ).catch(() => undefined);

/** Has the log cleaner compacted a partition of the topic yet? (its checkpoint file says so) */
function cleaned(topic: string): boolean {
  const file = path.join(stackSettingsFromEnv(process.env).stateDir, 'kafka/data/cleaner-offset-checkpoint');
  return existsSync(file) && readFileSync(file, 'utf8').includes(`${topic} `);
}

describe('the compacted topic feeds a new target', () => {
  it(
    'a target added after compaction reaches the source state from the topic alone',
    { timeout: 240_000 },
    async () => {
      runProducer(app, stops);
      consumers.peer = await startConsumer(app, 'peer');
      stops.push(() => consumers.peer!.stop());
      await waitUntil(async () => (await checkpoint(env.config))?.status === 'done', {
        what: 'the initial snapshot',
        timeoutMs: 120_000,
      });
      await waitForPeerEqual(env, 120_000);

      // Two rounds of changes: rows updated twice (superseded values), deleted (tombstones), added.
      await withClient(env.source.url, async (c) => {
        await c.query("UPDATE users SET city = 'r1-' || id, updated_at = now() WHERE id % 3 = 0");
        await c.query('DELETE FROM users WHERE id % 7 = 0');
        const r = rng(3);
        await insertUsers(
          c,
          Array.from({ length: 300 }, (_, i) => makeUser(r, i, { tag: 'late', largeBioRatio: 0 })),
        );
        await c.query("UPDATE users SET city = 'r2', balance = coalesce(balance, 0) + 1 WHERE id % 3 = 0");
        await c.query('DELETE FROM users WHERE id % 11 = 0');
      });
      await waitForPeerEqual(env, 120_000);

      // Give the cleaner a chance: segments roll when a message arrives after segment.ms, so keep
      // touching one row while waiting (briefly) for the cleaner's checkpoint to name the topic.
      const compacted = await waitUntil(
        async () => {
          if (cleaned(env.topic)) return true;
          await query(env.source.url, 'UPDATE users SET updated_at = now() WHERE id = 1');
          return false;
        },
        { what: 'the log cleaner', timeoutMs: 40_000, intervalMs: 1000 },
      ).catch(() => false);
      const admin = app.kafka.admin();
      await admin.connect();
      const offsets = await admin.topicOffsets(env.topic).finally(() => admin.disconnect());
      const written = offsets.reduce((n, p) => n + Number(p.high), 0);
      // What is left in the topic (a compacted partition has gaps in its offsets).
      const messages = await app.kafka.reader().read(
        env.topic,
        offsets.map((o) => ({ partition: o.partition, from: o.low, to: o.high })),
        { timeoutMs: 60_000 },
      );

      // A brand-new target: its own group, from the earliest offset, nothing but the topic.
      const app2 = testApp(config2);
      const t0 = Date.now();
      consumers.peer2 = await startConsumer(app2, 'peer2');
      stops.push(() => consumers.peer2!.stop());
      const result = await waitUntil(async () => (await peer2Equal())?.equal && (await peer2Equal()), {
        what: 'the new target to equal the source',
        timeoutMs: 120_000,
        intervalMs: 500,
      }).catch(async (err: Error) => {
        const last = await peer2Equal();
        const ids = last
          ? [...last.extra, ...last.missing, ...last.different.map((d) => d.id)].slice(0, 4)
          : [];
        throw new Error(
          `${err.message}: ${JSON.stringify({ ...last, missing: last?.missing.slice(0, 5), extra: last?.extra.slice(0, 5) })}\n` +
            (await explainKeys(app, env.topic, peer2.url, ids)),
        );
      });
      const ms = Date.now() - t0;
      expect(result.equal).toBe(true);
      expect(consumers.peer2.status().deadLettered).toBe(0);
      report('new-target', {
        rows: result.sourceRows,
        compactionObserved: String(compacted),
        messagesWritten: written,
        messagesLeft: messages.length,
        tombstonesLeft: messages.filter((m) => m.value === null).length,
        newTargetSec: (ms / 1000).toFixed(1),
        newTargetMessagesPerSec: perSecond(messages.length, ms),
      });
    },
  );

  it(
    'pgcdc snapshot --restart re-feeds every row through the running producer; both targets stay equal',
    { timeout: 180_000 },
    async () => {
      const before = (await checkpoint(env.config))!;
      const appliedBefore = (await appliedByOp(app, 'peer')).r ?? 0;
      const child = spawnCli(['snapshot', '--restart', '-c', env.configFile]);
      const code = await waitUntil(() => child.proc.exitCode ?? undefined, {
        what: 'pgcdc snapshot --restart to finish',
        timeoutMs: 120_000,
        intervalMs: 200,
      });
      expect(code, child.output().slice(-2000)).toBe(0);
      expect(child.output()).toContain('the producer streaming the slot');
      const after = (await checkpoint(env.config))!;
      const rows = Number(
        (await query<{ n: string }>(env.source.url, 'SELECT count(*) AS n FROM users'))[0]!.n,
      );
      expect(after).toMatchObject({ status: 'done', reason: 'restart', resumes: 0 });
      expect(after.snapshotId).not.toBe(before.snapshotId);
      expect(after.rowsDone).toBe(rows);
      expect(after.events).toBe(rows);

      await waitUntil(async () => ((await appliedByOp(app, 'peer')).r ?? 0) >= appliedBefore + after.events, {
        what: 'the peer to apply the second feed',
        timeoutMs: 120_000,
      });
      const r1 = await waitForPeerEqual(env, 60_000);
      const r2 = await waitUntil(async () => (await peer2Equal())?.equal && (await peer2Equal()), {
        what: 'the second target to stay equal',
        timeoutMs: 60_000,
      });
      expect(r1.targetRows).toBe(rows);
      expect(r2.targetRows).toBe(rows);
      const secs = (after.finishedAt!.getTime() - after.startedAt!.getTime()) / 1000;
      report('restart', { rows, kafkaRowsPerSec: Math.round(rows / secs), chunks: after.chunks });
    },
  );
});
