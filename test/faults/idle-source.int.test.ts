// Fault: the captured table is idle while the rest of the database is busy. pgoutput sends nothing
// for transactions that do not touch `users`, so without help the slot would never move and the
// server would keep every byte of WAL written elsewhere. The producer's heartbeat (a logical
// message every source.heartbeatIntervalMs, acknowledged once Kafka has everything before it)
// moves it: confirmed_flush_lsn passes the end of the burst, and the WAL the slot retains
// (pg_current_wal_lsn() - restart_lsn) falls back to almost nothing, while an unread control slot
// created at the same time retains the whole burst. A Postgres cluster of the test's own keeps
// other tests' WAL (and their long transactions, which hold restart_lsn back) out of the picture.
import { describe, expect, it } from 'vitest';
import { cleanupAfterEach } from '../support/cleanup.ts';
import { formatLsn } from '../../schemas/lsn.ts';
import { stackUrls, waitUntil } from '../support/index.ts';
import { pipelineEnv, query, runInProcess, testApp, waitForPeerEqual } from '../support/pipeline.ts';
import { deadLetters, lsn, metricValue, sampler, slotRow, startOwnPostgres } from '../support/faults.ts';

const BURST_MS = 8000;
const BURST_MAX_BYTES = 32 << 20;
/** What the slot may still retain once the heartbeat has moved it past the burst. */
const RETAINED_BOUND = 2 << 20;
const urls = stackUrls();
const cleanups = cleanupAfterEach();

const mb = (n: bigint | number) => `${(Number(n) / 2 ** 20).toFixed(1)} MB`;

describe('idle source', () => {
  it('heartbeats advance the slot while only other tables change, so retained WAL stays bounded', async () => {
    const pg = await startOwnPostgres();
    cleanups.push(() => pg.destroy());
    const e = await pipelineEnv({ ...urls, adminUrl: pg.adminUrl }, 'idle', {
      source: { heartbeatIntervalMs: 500 },
    });
    cleanups.push(() => e.drop());
    await query(e.source.url, 'CREATE TABLE other (id bigserial PRIMARY KEY, pad text)');
    const app = testApp(e.config);
    const pipeline = await runInProcess(app);
    cleanups.push(() => pipeline.stop());
    await query(
      e.source.url,
      "INSERT INTO users (email, username) SELECT 'i' || i || '@x.io', 'i' || i FROM generate_series(1, 20) i",
    );
    await waitForPeerEqual(e);
    const published = await metricValue(app, 'pgcdc_published_events_total');

    const control = `${e.config.source.slot}_control`;
    await query(e.source.url, "SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [control]);
    cleanups.push(() => query(e.source.url, 'SELECT pg_drop_replication_slot($1)', [control]));
    const [{ start }] = (await query<{ start: string }>(
      e.source.url,
      'SELECT pg_current_wal_lsn()::text AS start',
    )) as [{ start: string }];
    const watch = sampler(250, () => slotRow(e.source.url, e.config.source.slot));
    // The burst: other tables only, for BURST_MS or BURST_MAX_BYTES of WAL, whichever comes first.
    const t0 = Date.now();
    let end = lsn(start);
    while (Date.now() - t0 < BURST_MS && end - lsn(start) < BURST_MAX_BYTES) {
      await query(
        e.source.url,
        'INSERT INTO other (pad) SELECT repeat(md5(i::text), 32) FROM generate_series(1, 500) i',
      );
      end = lsn((await query<{ l: string }>(e.source.url, 'SELECT pg_current_wal_lsn()::text AS l'))[0]!.l);
    }
    const written = end - lsn(start);

    // The slot is confirmed past the burst without a single change of `users`...
    const confirmedAfter = await waitUntil(
      async () => {
        const r = await slotRow(e.source.url, e.config.source.slot);
        return lsn(r?.confirmed) >= end && r;
      },
      { what: 'the heartbeat to confirm the slot past the burst', timeoutMs: 15_000 },
    );
    // ... and releases the WAL (restart_lsn moves at the server's next running-xacts record, <= 15 s).
    const released = await waitUntil(
      async () => {
        const r = (await slotRow(e.source.url, e.config.source.slot))!;
        const retained = lsn(r.current) - lsn(r.restart);
        return retained < RETAINED_BOUND && { ...r, retained };
      },
      { what: `the slot to retain less than ${mb(RETAINED_BOUND)}`, timeoutMs: 60_000 },
    );
    const samples = await watch.stop();
    const ctl = (await slotRow(e.source.url, control))!;
    const controlRetained = lsn(ctl.current) - lsn(ctl.restart);
    // What pgcdc has been sent but not yet acknowledged. Not current - confirmed: how fast the
    // server's walsender decodes the burst (CPU it shares with everything else on the machine) is
    // not the pipeline's doing; the pipeline's part starts when the stream reaches it.
    const maxFlushLag = samples.reduce((m, s) => {
      if (!s?.sent) return m;
      const lag = lsn(s.sent) - lsn(s.confirmed);
      return lag > m ? lag : m;
    }, 0n);
    const sampledWithReader = samples.filter((s) => s?.sent).length;

    expect(written).toBeGreaterThan(4 << 20);
    expect(controlRetained).toBeGreaterThanOrEqual(written);
    expect(released.retained).toBeLessThan(RETAINED_BOUND);
    expect(sampledWithReader).toBeGreaterThan(samples.length / 2); // the lag below was measured
    expect(maxFlushLag).toBeLessThan(written / 2n); // it follows the burst, not only its end
    expect(await metricValue(app, 'pgcdc_published_events_total')).toBe(published); // heartbeats publish nothing
    await waitForPeerEqual(e);
    expect(await deadLetters(app.kafka, e)).toEqual([]);
    console.log(
      `idle source: ${mb(written)} of WAL written to another table in ${((Date.now() - t0) / 1000).toFixed(0)} s; ` +
        `slot confirmed ${formatLsn(lsn(confirmedAfter.confirmed))} >= burst end ${formatLsn(end)}; ` +
        `sent but unacknowledged WAL at most ${mb(maxFlushLag)} during the burst; retained ${mb(released.retained)} afterwards ` +
        `(bound ${mb(RETAINED_BOUND)}), an unread control slot retains ${mb(controlRetained)}`,
    );
  }, 180_000);
});
