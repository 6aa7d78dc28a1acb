// `source.snapshot.mode: never` and `source.snapshot.filter`: a producer does not snapshot by
// itself; `pgcdc snapshot` asks the running producer (signal) and follows it to the end; only the
// rows matching the filter are fed; `pgcdc snapshot --status` shows the checkpoint. The filter is
// read from the configuration only: the checkpoint row keeps its fingerprint, never the SQL.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProducer, type App } from '../../pipeline/compose.ts';
import { stackUrls, waitUntil } from '../support/index.ts';
import {
  pipelineEnv,
  query,
  runCli,
  startTestConsumer,
  stopProducer,
  testApp,
  type PipelineEnv,
} from '../support/pipeline.ts';
import { checkpoint, checkpointWhere, seedUsers } from '../support/snapshot.ts';

const ROWS = 3000;
const FILTER = 'is_active AND NOT is_blocked';
const urls = stackUrls();
let env: PipelineEnv;
const stops: (() => Promise<void>)[] = [];

beforeAll(async () => {
  env = await pipelineEnv(urls, 'snapfilter', {
    source: { snapshot: { mode: 'never', batchSize: 300, filter: FILTER } },
  });
  await seedUsers(env.source.url, ROWS);
});
afterAll(async () => {
  for (const stop of stops.reverse()) await stop();
  await env?.drop();
});

/**
 * The test's producer. It is stopped while the second test tampers with the checkpoint row: an
 * idle producer also looks at the row by itself every 30 s (runner.ts IDLE_RECHECK_MS), and a look
 * between the tampering and the CLI's request re-feeds on its own (reason filter-changed), so the
 * request then starts a second snapshot (reason requested).
 */
let streaming: ReturnType<typeof startProducer> | undefined;
async function startStreaming(app: App): Promise<void> {
  const started = startProducer(app);
  streaming = started;
  await waitUntil(() => started.producer.state().running, { what: 'the producer to stream' });
}
/** Stops it and waits until the server released the slot (the CLI then runs its own producer). */
async function stopStreaming(): Promise<void> {
  const s = streaming;
  streaming = undefined;
  if (!s) return;
  await stopProducer(s);
  await waitUntil(
    async () =>
      (
        await query<{ active: boolean }>(
          env.source.url,
          'SELECT active FROM pg_replication_slots WHERE slot_name = $1',
          [env.config.source.slot],
        )
      )[0]?.active === false,
    { what: 'the slot to be released' },
  );
}

async function run(args: string[]): Promise<{ code: number; out: string }> {
  const r = await runCli(args, 90_000);
  return { code: r.code, out: `${r.stdout}${r.stderr}` };
}

const ids = async (url: string, where = 'true') =>
  (await query<{ id: string }>(url, `SELECT id::text FROM users WHERE ${where} ORDER BY id`)).map(
    (r) => r.id,
  );

describe('snapshot on request, with a filter', () => {
  it('mode never: nothing is fed until asked; then only matching rows; --status shows it', async () => {
    const never = await run(['snapshot', '--status', '-c', env.configFile]);
    expect(never.code).toBe(0);
    expect(never.out).toContain('never requested');

    const app = testApp(env.config);
    stops.push(stopStreaming);
    await startStreaming(app);
    const consumer = await startTestConsumer(app, 'peer');
    stops.push(() => consumer.stop());
    expect(await checkpoint(env.config)).toBeUndefined(); // mode never: no automatic snapshot

    const asked = await run(['snapshot', '-c', env.configFile]);
    expect(asked.code, asked.out).toBe(0);
    expect(asked.out).toContain('the producer streaming the slot');
    const matching = await ids(env.source.url, FILTER);
    expect(matching.length).toBeGreaterThan(ROWS / 2);
    expect(matching.length).toBeLessThan(ROWS);
    await waitUntil(async () => (await ids(env.peer.url).catch(() => [])).length === matching.length, {
      what: 'the matching rows at the peer',
    });
    expect(await ids(env.peer.url)).toEqual(matching);

    const status = await run(['snapshot', '--status', '--json', '-c', env.configFile]);
    expect(status.code).toBe(0);
    const { checkpoint: cp, producerPid } = JSON.parse(status.out) as {
      checkpoint: Record<string, unknown>;
      producerPid: number | null;
    };
    expect(cp).toMatchObject({
      status: 'done',
      reason: 'requested',
      filter: FILTER,
      batchSize: 300,
      rowsDone: matching.length,
      rowsTotal: matching.length,
      events: matching.length,
      pendingKeys: [],
    });
    expect(producerPid).toEqual(expect.any(Number));
    const human = await run(['snapshot', '--status', '-c', env.configFile]);
    expect(human.out).toMatch(/: done, requested/);
    expect(human.out).toContain(
      `${matching.length.toLocaleString('en-US')}/${matching.length.toLocaleString('en-US')} rows`,
    );
  });

  it('a legacy or tampered row cannot run SQL; a filter changed since the start feeds again (issue 14 item 14)', async () => {
    const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
    const { ref } = checkpointWhere(env.config);
    const table = `"${ref.schema}"."${ref.table}"`;
    const columns = async () =>
      (
        await query<{ column_name: string }>(
          env.source.url,
          'SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2',
          [ref.schema, ref.table],
        )
      ).map((r) => r.column_name);
    expect(await columns()).not.toContain('filter');
    const before = (await checkpoint(env.config))!;
    expect(before.filterFingerprint).toBe(sha256(FILTER));

    // A row as an earlier version left it (the SQL in a `filter` column), interrupted, its SQL
    // rewritten by whoever can write the table: executed, 'false' would feed nothing. No producer
    // looks at the row meanwhile (see streaming): `pgcdc snapshot` migrates it, asks, and runs one.
    await stopStreaming();
    await query(env.source.url, `ALTER TABLE ${table} ADD COLUMN filter text`);
    await query(
      env.source.url,
      `UPDATE ${table} SET status = 'running', filter = 'false', filter_fingerprint = NULL, last_key = NULL,
         pending_keys = '{}', rows_done = 0, events = 0, chunks = 0, finished_at = NULL`,
    );
    const asked = await run(['snapshot', '-c', env.configFile]);
    expect(asked.code, asked.out).toBe(0);

    const matching = await ids(env.source.url, FILTER);
    const after = (await checkpoint(env.config))!;
    expect(after).toMatchObject({
      status: 'done',
      reason: 'filter-changed',
      filterFingerprint: sha256(FILTER),
      rowsDone: matching.length,
      events: matching.length,
    });
    expect(after.snapshotId).not.toBe(before.snapshotId);
    expect(await columns()).not.toContain('filter'); // migrated: the SQL is gone, never executed
    expect(await ids(env.peer.url)).toEqual(matching);
    await startStreaming(testApp(env.config)); // the next test asks the streaming producer
  });

  it('--json without --status: one document on stdout at the end, the progress on stderr', async () => {
    const r = await runCli(['snapshot', '--restart', '--json', '-c', env.configFile], 90_000);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as Record<string, unknown> & { checkpoint: Record<string, unknown> };
    const matching = await ids(env.source.url, FILTER);
    expect(doc).toMatchObject({
      outcome: 'done',
      table: 'public.users',
      slot: env.config.source.slot,
      ranProducer: false,
    });
    expect(typeof doc.producerPid).toBe('number');
    expect(typeof doc.durationSeconds).toBe('number');
    expect(doc.checkpoint).toMatchObject({ status: 'done', rowsDone: matching.length, filter: FILTER });
    expect(r.stderr).toContain('the producer streaming the slot');
  });
});
