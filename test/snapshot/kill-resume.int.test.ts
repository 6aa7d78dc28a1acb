// A snapshot process killed in the middle resumes from its last checkpoint, not from zero. The
// snapshot runs in a `pgcdc snapshot` child (no producer streams the slot, so it runs one); it is
// SIGKILLed once a third of the rows is checkpointed. Rows change while nothing runs. A second
// `pgcdc snapshot` resumes after the checkpoint's last key, and the peer ends equal to the source;
// the topic holds barely more op=r events than rows (at most the killed run's two chunks in flight).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startConsumer } from '../../pipeline/compose.ts';
import { stackUrls, waitUntil } from '../support/index.ts';
import {
  pipelineEnv,
  query,
  readTopic,
  spawnCli,
  testApp,
  waitForPeerEqual,
  type CliChild,
  type PipelineEnv,
} from '../support/pipeline.ts';
import { checkpoint, perSecond, report, seedUsers, snapshotMessages } from '../support/snapshot.ts';

const ROWS = 20_000;
const BATCH = 500;

const urls = stackUrls();
let env: PipelineEnv;
const children: CliChild[] = [];
const stops: (() => Promise<void>)[] = [];

beforeAll(async () => {
  env = await pipelineEnv(urls, 'snapkill', { source: { snapshot: { batchSize: BATCH, mode: 'never' } } });
  await seedUsers(env.source.url, ROWS);
});
afterAll(async () => {
  for (const c of children) await c.kill('SIGKILL');
  for (const stop of stops.reverse()) await stop();
  await env?.drop();
});

const slotActive = async () =>
  (
    await query<{ active: boolean }>(
      env.source.url,
      'SELECT active FROM pg_replication_slots WHERE slot_name = $1',
      [env.config.source.slot],
    )
  )[0]?.active === true;

describe('killed snapshot', () => {
  it('resumes after the last checkpoint and the peer ends equal', { timeout: 240_000 }, async () => {
    const first = spawnCli(['snapshot', '-c', env.configFile]);
    children.push(first);
    const atKill = await waitUntil(
      async () => {
        const c = await checkpoint(env.config);
        return c?.status === 'running' && c.rowsDone >= ROWS / 3 && c;
      },
      { what: 'a third of the rows to be checkpointed', timeoutMs: 120_000, intervalMs: 20 },
    );
    await first.kill('SIGKILL');
    const killed = (await checkpoint(env.config))!;
    // The peer's consumer (the topic exists now) reads everything from the start.
    const app = testApp(env.config);
    const consumer = await startConsumer(app, 'peer');
    stops.push(() => consumer.stop());
    // The checkpoint the killed process left: running, part way, after whole acknowledged chunks.
    expect(killed.status).toBe('running');
    expect(killed.snapshotId).toBe(atKill.snapshotId);
    expect(killed.rowsDone).toBeGreaterThanOrEqual(atKill.rowsDone);
    expect(killed.rowsDone).toBeLessThan(ROWS);
    expect(killed.rowsDone % BATCH).toBe(0);
    expect(killed.lastKey).toBe(String(killed.rowsDone)); // ids 1..ROWS, nothing deleted yet
    expect(killed.resumes).toBe(0);

    // Rows change while no producer runs: on both sides of the checkpoint's position.
    await query(env.source.url, "UPDATE users SET city = 'after-kill', updated_at = now() WHERE id % 97 = 0");
    const deleted = (
      await query<{ id: string }>(env.source.url, 'DELETE FROM users WHERE id % 101 = 0 RETURNING id')
    ).length;
    await waitUntil(async () => !(await slotActive()), { what: 'the killed process to release the slot' });

    const spawnedAt = Date.now();
    const second = spawnCli(['snapshot', '-c', env.configFile]);
    children.push(second);
    const exitCode = await waitUntil(() => second.proc.exitCode ?? undefined, {
      what: 'the resumed snapshot to finish',
      timeoutMs: 180_000,
      intervalMs: 200,
    }).catch((err: Error) => {
      throw new Error(`${err.message}\n${second.output().slice(-3000)}`);
    });
    expect(exitCode, second.output().slice(-3000)).toBe(0);
    expect(second.output()).toContain(`resuming snapshot ${killed.snapshotId} after key ${killed.lastKey}`);

    const done = (await checkpoint(env.config))!;
    expect(done).toMatchObject({
      status: 'done',
      snapshotId: killed.snapshotId,
      resumes: 1,
      pendingKeys: [],
    });
    // Run 2 read only what was after the checkpoint.
    expect(done.rowsDone).toBeLessThanOrEqual(ROWS);
    expect(done.rowsDone).toBeGreaterThanOrEqual(ROWS - deleted);

    await waitForPeerEqual(env, 120_000);
    const rEvents = snapshotMessages(await readTopic(app.kafka, env.topic)).length;
    // Every row once, plus at most the two chunks the killed run published but had not checkpointed
    // (the checkpoint of one chunk is written while the next one is read).
    expect(rEvents).toBeGreaterThanOrEqual(ROWS - deleted);
    expect(rEvents).toBeLessThanOrEqual(ROWS + 2 * BATCH);
    report('kill-resume', {
      rows: ROWS,
      batch: BATCH,
      killedAtRows: killed.rowsDone,
      killedAtKey: killed.lastKey ?? '-',
      run2Rows: done.rowsDone - killed.rowsDone,
      rEventsInTopic: rEvents,
      // published by the killed run after its last checkpoint, read again by the second run
      publishedNotCheckpointed: rEvents - done.events,
      kafkaRowsPerSecRun1: perSecond(
        killed.rowsDone,
        killed.updatedAt.getTime() - killed.startedAt!.getTime(),
      ),
      // includes the start of the child process (tsx, connections, slot)
      kafkaRowsPerSecRun2: perSecond(done.rowsDone - killed.rowsDone, done.finishedAt!.getTime() - spawnedAt),
    });
  });
});
