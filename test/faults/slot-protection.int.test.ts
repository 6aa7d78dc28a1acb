// Fault: the replication slot is threatened or replaced behind the pipeline's back. On a Postgres
// cluster of the test's own (tiny max_slot_wal_keep_size, 1 MB WAL segments):
//   1. Kafka stops acknowledging (a gated producer port), so the slot cannot advance while `users`
//      keeps changing. The producer's slot monitor warns (log line, pgcdc_slot_wal_at_risk = 1,
//      readiness) while a good part of max_slot_wal_keep_size is still left; then the server
//      invalidates the slot (wal_status = lost) and the producer refuses it with a clear error
//      instead of streaming. The documented recovery (pgcdc slots drop --yes, restart, pgcdc
//      snapshot --restart) brings the peer back equal to the source.
//   2. The slot is dropped (the producer refuses to create a new one over the gap), then re-created
//      under the same name: it starts after the position pgcdc stored, so the producer refuses it,
//      publishes nothing, and the rows changed in the gap stay missing at the peer until the
//      documented recovery repairs them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupAfterEach } from '../support/cleanup.ts';
import { startProducer, type App } from '../../pipeline/compose.ts';
import type { Config } from '../../pipeline/config/schema.ts';
import { stackUrls, waitUntil } from '../support/index.ts';
import {
  gatedKafka,
  pipelineEnv,
  query,
  runCli,
  runInProcess,
  stopProducer,
  waitForPeerEqual,
  type PipelineEnv,
} from '../support/pipeline.ts';
import {
  appWithLog,
  deadLetters,
  lsn,
  metricValue,
  pgcdc,
  slotRow,
  startOwnPostgres,
  type LogLine,
  type OwnPostgres,
} from '../support/faults.ts';

const KEEP_MB = 6;
const urls = stackUrls();
let pg: OwnPostgres;
const cleanups = cleanupAfterEach();

beforeAll(async () => {
  pg = await startOwnPostgres([`max_slot_wal_keep_size=${KEEP_MB}MB`, 'max_wal_size=64MB']);
});
afterAll(() => pg?.destroy());

async function env(name: string): Promise<PipelineEnv> {
  const e = await pipelineEnv({ ...urls, adminUrl: pg.adminUrl }, name, {
    operations: { slotPollIntervalMs: 200, statusIntervalMs: 500 },
  });
  cleanups.push(() => e.drop());
  return e;
}

/** The documented recovery after the slot was lost or replaced: drop it, restart, re-snapshot. */
async function recover(e: PipelineEnv, appFor: () => App) {
  const dropped = await pgcdc(['slots', 'drop', e.config.source.slot, '--yes', '-c', e.configFile]);
  expect(dropped).toMatch(new RegExp(`dropped replication slot ${e.config.source.slot}`));
  const pipeline = await runInProcess(appFor());
  cleanups.push(() => pipeline.stop());
  await waitUntil(async () => (await slotRow(e.source.url, e.config.source.slot)) !== undefined, {
    what: 'the producer to create a new slot',
  });
  const snap = await pgcdc(['snapshot', '--restart', '-c', e.configFile]);
  await waitForPeerEqual(e);
  return { pipeline, snap };
}

const errors = (lines: LogLine[]) => lines.filter((l) => l.level >= 50 && l.component !== 'kafkajs');

describe('slot protection', () => {
  it('warns well before max_slot_wal_keep_size invalidates the slot, refuses the lost slot, recovers', async () => {
    const e = await env('slotlost');
    let gate: ReturnType<typeof gatedKafka> | undefined;
    const { app, lines } = appWithLog(e.config, (k) => (gate = gatedKafka(k)).factory);
    const pipeline = await runInProcess(app);
    cleanups.push(async () => {
      gate!.open();
      await pipeline.stop();
    });
    await query(
      e.source.url,
      "INSERT INTO users (email, username) SELECT 'k' || i || '@x.io', 'k' || i FROM generate_series(1, 100) i",
    );
    await waitForPeerEqual(e);

    gate!.close(); // Kafka stops acknowledging: the slot stands still from here
    const step = async (n: number) => {
      await query(
        e.source.url,
        `INSERT INTO users (email, username, bio) SELECT 'big' || $1::int || '-' || i || '@x.io', 'b' || i, repeat(md5(i::text), 16)
           FROM generate_series(1, 300) i`,
        [n],
      );
    };
    const keep = KEEP_MB * 2 ** 20;
    let n = 0;
    // Write in small steps until the monitor warns (it samples every 200 ms).
    const warned = await waitUntil(
      async () => {
        if ((await metricValue(app, 'pgcdc_slot_wal_at_risk')) === 1)
          return slotRow(e.source.url, e.config.source.slot);
        await step(n++);
        return undefined;
      },
      { what: 'the slot monitor to warn', timeoutMs: 120_000, intervalMs: 300 },
    );
    const safeAtWarning = Number(warned.safe_wal_size);
    const warning = lines.find((l) => /at risk of invalidation/.test(l.msg));
    expect(warning, JSON.stringify(lines.slice(-5))).toBeDefined();
    expect(warning!.level).toBe(40);
    expect(warned.wal_status).not.toBe('lost');
    expect(safeAtWarning).toBeGreaterThan(keep / 4); // well before: over a quarter of the allowance left
    const readyz = pipeline.producer!.readiness();
    expect(readyz.ok).toBe(false);
    expect(readyz.problems.join('\n')).toMatch(/at risk of invalidation/);
    const atRisk = await runCli(['status', '-c', e.configFile], 120_000);
    expect(atRisk.code, 'status exits 3: unhealthy').toBe(3);
    expect(atRisk.stdout).toMatch(/WARNING: replication slot \S+ is at risk of invalidation/);

    // Keep writing; the checkpoint removes the WAL the slot still needs.
    await waitUntil(
      async () => {
        await step(n++);
        await query(e.source.url, 'CHECKPOINT');
        return (await slotRow(e.source.url, e.config.source.slot))?.wal_status === 'lost';
      },
      { what: 'the server to invalidate the slot', timeoutMs: 120_000, intervalMs: 100 },
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}\nserver log:\n${pg.logTail(60)}`);
    });
    const refused = await waitUntil(
      () =>
        /invalidated \(wal_status = lost\)/.test(pipeline.producer!.state().lastError ?? '') &&
        pipeline.producer!.state(),
      {
        what: 'the producer to refuse the lost slot',
        timeoutMs: 60_000,
      },
    );
    expect(refused.running).toBe(false);
    expect(refused.lastError).toMatch(/fix: pgcdc slots drop .* --yes.*pgcdc snapshot --restart/s);
    await waitUntil(async () => (await metricValue(app, 'pgcdc_slot_wal_at_risk')) === 2, {
      what: 'pgcdc_slot_wal_at_risk = 2',
    });
    expect(errors(lines).some((l) => /was invalidated/.test(l.msg))).toBe(true);
    const lost = await runCli(['status', '-c', e.configFile], 120_000);
    expect(lost.code, 'status exits 3: unhealthy').toBe(3);
    expect(lost.stdout).toMatch(/wal_status lost/);

    gate!.open();
    await pipeline.stop();
    const rows = (await query<{ n: string }>(e.source.url, 'SELECT count(*)::text AS n FROM users'))[0]!.n;
    const { snap } = await recover(e, () => appWithLog(e.config).app);
    expect(await deadLetters(app.kafka, e)).toEqual([]);
    console.log(
      `slot lost: warned with ${(safeAtWarning / 2 ** 20).toFixed(1)} of ${KEEP_MB} MiB left (wal_status ${warned.wal_status}) ` +
        `after ${n} write steps; refused with: ${refused.lastError?.split('\n')[0]}; recovered ${rows} rows by re-snapshot ` +
        `(${snap.trim().split('\n').at(-1)})`,
    );
  }, 300_000);

  it('refuses a dropped slot and one re-created behind its back; the recovery repairs the gap', async () => {
    const e = await env('slotswap');
    const { app, lines } = appWithLog(e.config);
    const first = await runInProcess(app);
    await query(
      e.source.url,
      "INSERT INTO users (email, username) SELECT 'a' || i || '@x.io', 'a' || i FROM generate_series(1, 50) i",
    );
    await waitForPeerEqual(e);
    await first.stop();
    const stored = (
      await query<{ l: string }>(e.source.url, 'SELECT acknowledged_lsn::text AS l FROM pgcdc_position')
    )[0]!.l;
    expect(lsn(stored)).toBeGreaterThanOrEqual(
      lsn((await slotRow(e.source.url, e.config.source.slot))!.confirmed),
    );

    // Dropped: the producer does not create a new slot over the gap.
    await query(e.source.url, 'SELECT pg_drop_replication_slot($1)', [e.config.source.slot]);
    const refuseOnce = async (config: Config, pattern: RegExp) => {
      const { app: a, lines: l } = appWithLog(config);
      const started = startProducer(a);
      const { producer } = started;
      try {
        await waitUntil(() => pattern.test(producer.state().lastError ?? ''), {
          what: `the producer to refuse with ${pattern.source}`,
        });
        expect(await metricValue(a, 'pgcdc_published_events_total')).toBe(0);
        return { state: producer.state(), lines: l };
      } finally {
        await stopProducer(started);
      }
    };
    const missing = await refuseOnce(e.config, /does not exist, but pgcdc had streamed it up to/);
    expect(await slotRow(e.source.url, e.config.source.slot)).toBeUndefined();
    expect(missing.state.lastError).toMatch(/DELETE FROM "public"."pgcdc_position"/);

    // Re-created under the same name, after more changes: it starts after the stored position.
    await query(e.source.url, "UPDATE users SET city = 'in-the-gap', updated_at = now() WHERE id <= 20");
    await query(e.source.url, "SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [
      e.config.source.slot,
    ]);
    await query(e.source.url, "UPDATE users SET city = 'after-recreate', updated_at = now() WHERE id > 40");
    const before = (await slotRow(e.source.url, e.config.source.slot))!.confirmed;
    const recreated = await refuseOnce(e.config, /starts at .*, after the position pgcdc last acknowledged/);
    expect(recreated.state.lastError).toMatch(/fix: pgcdc slots drop/);
    expect((await slotRow(e.source.url, e.config.source.slot))!.confirmed).toBe(before); // never streamed from
    const atPeer = await query<{ n: string }>(
      e.peer.url,
      'SELECT count(*)::text AS n FROM users WHERE city IS NOT NULL',
    );
    expect(atPeer[0]!.n).toBe('0'); // nothing of the gap or after it arrived

    await recover(e, () => appWithLog(e.config).app);
    expect(await deadLetters(app.kafka, e)).toEqual([]);
    expect(errors(lines)).toEqual([]);
    console.log(
      `slot swapped: refused dropped slot (${missing.state.lastError?.split('\n')[0]}); refused re-created slot (${recreated.state.lastError?.split('\n')[0]}); recovered`,
    );
  }, 300_000);
});
