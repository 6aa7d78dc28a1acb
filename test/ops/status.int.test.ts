// `pgcdc status --json` against the real stack: the producer's slot and WAL figures, lag while a
// target is stopped and zero once it caught up (its counters continuing across the restart), the
// last error after the target rejected a row; and `pgcdc slots` on the same pipeline.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { App } from '../../pipeline/compose.ts';
import type { KafkaAdminPort } from '../../pipeline/kafka/port.ts';
import { gatherStatus, type PipelineStatus } from '../../ops/status.ts';
import { stackUrls, waitUntil } from '../support/index.ts';
import {
  createPeerTable,
  dropPipelineEnv,
  pipelineEnv,
  query,
  runProducer,
  testApp,
  type PipelineEnv,
  startTestConsumer,
} from '../support/pipeline.ts';
import { json, runCli } from '../support/ops.ts';

let env: PipelineEnv;
let app: App;
let admin: KafkaAdminPort;
const stops: (() => Promise<unknown>)[] = [];
/**
 * Each test runs the CLI 5-6 times (a start costs 15-20 s at a load average of 20) besides its
 * waits, each with its own deadline; the test's own deadline is above their sum, so a slow machine
 * fails on the wait that did not finish, not on the test timer (CI9 ran out of 120 s here).
 */
const CLI_TEST_TIMEOUT_MS = 300_000;

beforeAll(async () => {
  env = await pipelineEnv(stackUrls(), 'status', {
    // no initial feed: it could race the first inserts and publish them once more (op r)
    source: { snapshot: { mode: 'never' } },
    operations: { statusIntervalMs: 200, slotPollIntervalMs: 500 },
  });
  // the target table is ours: the contract's shape plus a CHECK the source does not have
  await createPeerTable(env);
  await query(env.peer.url, "ALTER TABLE users ADD CONSTRAINT no_reject CHECK (username <> 'reject-me')");
  app = testApp(env.config);
  admin = app.kafka.admin();
  await admin.connect();
});

afterAll(async () => {
  await admin.disconnect();
  await dropPipelineEnv(env, app.kafka, stops);
});

const insert = (n: number, tag: string) =>
  query(
    env.source.url,
    `INSERT INTO users (email, username) SELECT '${tag}' || g || '@example.org', '${tag}' || g FROM generate_series(1, ${n}) g`,
  );

/** `pgcdc status --json`; `healthy`: the exit code and the health fields it must report (0 / 3). */
const statusCli = async (healthy: boolean) => {
  const r = await runCli(['status', '-c', env.configFile, '--json']);
  expect(r.code, r.stderr).toBe(healthy ? 0 : 3);
  const s = json<PipelineStatus & { healthy: boolean; problems: string[] }>(r);
  expect(s.healthy).toBe(healthy);
  expect(s.problems.length === 0).toBe(healthy);
  return s;
};

/** Polls the same gathering the CLI does, in-process (a CLI start costs seconds). */
const statusWhen = (what: string, ok: (s: PipelineStatus) => boolean) =>
  waitUntil(
    async () => {
      const s = await gatherStatus(env.config, app.kafka);
      return ok(s) && s;
    },
    { what, timeoutMs: 60_000, intervalMs: 300 },
  );

it(
  'reports the slot, lag while the target is stopped, zero after it caught up, and the last error',
  async () => {
    const producer = runProducer(app, stops);
    let consumer = await startTestConsumer(app, 'peer');
    let stopConsumer = () => consumer.stop();
    stops.push(stopConsumer);

    await insert(5, 'a');
    await statusWhen('5 applied, no lag', (s) => s.targets[0]?.applied === 5 && s.targets[0].totalLag === 0);
    const s1 = await statusCli(true);
    expect(s1.producer).toMatchObject({
      slot: env.config.source.slot,
      exists: true,
      plugin: 'pgoutput',
      active: true,
      running: true,
      lastError: null,
    });
    expect(s1.producer.walRetainedBytes).toBeGreaterThan(0);
    expect(s1.producer.confirmedFlushLagBytes).toBeGreaterThanOrEqual(0);
    expect(s1.producer.confirmedFlushLsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    expect(Date.parse(s1.producer.lastEventAt!)).toBeGreaterThan(Date.now() - 60_000);
    const t1 = s1.targets[0]!;
    expect(t1).toMatchObject({
      name: 'peer',
      lastStatus: 'OK',
      applied: 5,
      failed: 0,
      deadLettered: 0,
      totalLag: 0,
    });
    expect(t1.groupState).toBe('Stable');
    expect(t1.members).toHaveLength(1);
    expect(t1.lastApplied.offset).not.toBeNull();
    expect(t1.lastApplied.sourceCommitTime).toMatch(/^\d{4}-\d\d-\d\dT.*Z$/);

    // the target stops; 7 more events wait for it
    await consumer.stop();
    stops.splice(stops.indexOf(stopConsumer), 1);
    await insert(7, 'b');
    await statusWhen('lag 7', (s) => s.targets[0]?.totalLag === 7);
    const s2 = await statusCli(false);
    expect(s2.problems).toContain('target peer: stopped');
    expect(s2.targets[0]).toMatchObject({ totalLag: 7, members: [], state: 'stopped', applied: 5 });
    expect(s2.targets[0]!.groupState).toBe('Empty');
    expect(s2.targets[0]!.lag.reduce((n, p) => n + p.lag, 0)).toBe(7);

    // it comes back, continues its counters, catches up
    consumer = await startTestConsumer(app, 'peer');
    stopConsumer = () => consumer.stop();
    stops.push(stopConsumer);
    await statusWhen('caught up', (s) => s.targets[0]?.totalLag === 0 && s.targets[0].applied === 12);
    const s3 = await statusCli(true);
    expect(s3.targets[0]).toMatchObject({ totalLag: 0, applied: 12, lastStatus: 'OK' });

    // a row the target's CHECK rejects: dead-lettered, shown as the last error
    await query(env.source.url, "INSERT INTO users (email, username) VALUES ('r@example.org', 'reject-me')");
    await statusWhen(
      'the rejected row',
      (s) => s.targets[0]?.deadLettered === 1 && s.targets[0].totalLag === 0,
    );
    const s4 = await statusCli(false);
    expect(s4.problems.join('\n')).toMatch(/target peer: ERR/);
    expect(s4.targets[0]).toMatchObject({ lastStatus: 'ERR', deadLettered: 1, applied: 12 });
    expect(s4.targets[0]!.lastError).toMatch(/no_reject/);
    expect(Date.parse(s4.targets[0]!.lastErrorAt!)).toBeGreaterThan(Date.now() - 60_000);
    // a dead-lettered row does not make the pipeline unready; delivery goes on
    expect(consumer.readiness()).toEqual({ ok: true, problems: [] });
    expect(producer.readiness()).toEqual({ ok: true, problems: [] });

    const text = await runCli(['status', '-c', env.configFile]);
    expect(text.code).toBe(3);
    expect(text.stdout).toMatch(/^health: UNHEALTHY \(exit code 3\)$/m);
    expect(text.stdout).toMatch(/target +peer \(postgres\) +ERR/);
    expect(text.stdout).toMatch(/applied 12, failed 0, dead-lettered 1/);
  },
  CLI_TEST_TIMEOUT_MS,
);

it(
  'slots: lists them, refuses to drop an active one, drops a stale one only with --yes',
  async () => {
    const stale = `${env.config.source.slot}_stale`;
    await query(env.source.url, "SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [stale]);
    const list = json<{ slots: { name: string; active: boolean; plugin: string; retainedBytes: number }[] }>(
      await runCli(['slots', 'list', '-c', env.configFile, '--json']),
    );
    const mine = list.slots.filter((s) => s.name === env.config.source.slot || s.name === stale);
    expect(mine.map((s) => [s.name, s.active, s.plugin])).toEqual([
      [env.config.source.slot, true, 'pgoutput'],
      [stale, false, 'pgoutput'],
    ]);

    const active = await runCli(['slots', 'drop', env.config.source.slot, '--yes', '-c', env.configFile]);
    expect(active.code).not.toBe(0);
    expect(active.stderr).toMatch(/is active: streamed right now by pid \d+/);

    const unconfirmed = await runCli(['slots', 'drop', stale, '-c', env.configFile]);
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.stdout).toMatch(new RegExp(`would drop replication slot ${stale}`));
    expect(unconfirmed.stderr).toMatch(/not confirmed \(no --yes\); nothing was done\n {2}fix: add --yes/);
    const dry = await runCli(['slots', 'drop', stale, '--dry-run', '-c', env.configFile]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(new RegExp(`would drop replication slot ${stale}`));
    const dropped = await runCli(['slots', 'drop', stale, '--yes', '-c', env.configFile]);
    expect(dropped.code, dropped.stderr).toBe(0);
    expect(dropped.stdout).toMatch(new RegExp(`dropped replication slot ${stale}`));
    const left = await query(env.source.url, 'SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [
      stale,
    ]);
    expect(left).toHaveLength(0);
  },
  CLI_TEST_TIMEOUT_MS,
);
