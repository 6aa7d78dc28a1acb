// A Postgres target whose table is locked for longer than the Kafka session timeout: the apply
// gives up after connections.target.lockTimeoutMs (a retriable error), the consumer stays in its
// group (no eviction, no redelivery loop) and readiness shows the target failing; once the lock
// is gone the target catches up. Without a lock timeout the apply would wait past the session
// timeout, get the member evicted and the batch redelivered, while readiness still said ready.
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { App } from '../../pipeline/compose.ts';
import { groupFor } from '../../pipeline/config/schema.ts';
import { stackUrls, waitUntil } from '../support/index.ts';
import {
  dropPipelineEnv,
  pipelineEnv,
  query,
  runPipeline,
  testApp,
  waitForPeerEqual,
  type PipelineEnv,
} from '../support/pipeline.ts';

/** the test environment's kafka.sessionTimeoutMs (test/support/pipeline.ts) */
const SESSION_TIMEOUT_MS = 6000;
let env: PipelineEnv;
let app: App;
const stops: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  env = await pipelineEnv(stackUrls(), 'tgtlock', {
    source: { snapshot: { mode: 'never' } },
    connections: { target: { lockTimeoutMs: 1500, statementTimeoutMs: 4000 } },
    operations: { targetStuckMs: 1000, statusIntervalMs: 500 },
  });
  expect(env.config.kafka.sessionTimeoutMs).toBe(SESSION_TIMEOUT_MS);
  app = testApp(env.config);
});

afterAll(() => dropPipelineEnv(env, app.kafka, stops));

async function members(): Promise<string[]> {
  const groups = app.kafka.groupAdmin();
  await groups.connect();
  try {
    const g = await groups.describeGroup(groupFor(env.config.kafka, env.config.targets[0]!));
    return g.memberList.map((m) => m.memberId);
  } finally {
    await groups.disconnect();
  }
}

it('a target lock held past the session timeout shows in readiness and evicts nobody', async () => {
  const { consumer } = await runPipeline(app, stops);
  await query(env.source.url, "INSERT INTO users (email, username) VALUES ('a@example.org', 'a')");
  await waitForPeerEqual(env);
  const before = await waitUntil(async () => ((await members()).length === 1 ? await members() : false), {
    what: 'one member in the group',
  });

  const locker = new pg.Client({ connectionString: env.peer.url });
  await locker.connect();
  try {
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE users IN ACCESS EXCLUSIVE MODE');
    const heldSince = Date.now();
    await query(env.source.url, "INSERT INTO users (email, username) VALUES ('b@example.org', 'b')");
    const unready = await waitUntil(() => !consumer.readiness().ok && consumer.readiness(), {
      what: 'the locked target to make the consumer unready',
      timeoutMs: 20_000,
    });
    expect(unready.problems.join('\n')).toMatch(/target peer: failing for \d+ s: .*lock timeout/);
    // hold it for two session timeouts: a member that could not heartbeat would be evicted by now
    await waitUntil(() => Date.now() - heldSince > 2 * SESSION_TIMEOUT_MS, {
      what: 'two session timeouts to pass',
      timeoutMs: 3 * SESSION_TIMEOUT_MS,
      intervalMs: 500,
    });
    expect(await members()).toEqual(before);
    expect(consumer.readiness().ok).toBe(false);
  } finally {
    await locker.query('ROLLBACK').catch(() => undefined);
    await locker.end();
  }
  await waitForPeerEqual(env);
  await waitUntil(() => consumer.readiness().ok, { what: 'the target to recover' });
  expect(await members()).toEqual(before);
});
