// Fault: the target database is unreachable for 20 s while changes keep coming. The consumer
// reaches the peer through a TCP proxy the test cuts (listener closed, live connections reset).
// It must retry with growing delays (not a hot loop), show ERR with the cause in its status and in
// `pgcdc status`, commit nothing it did not apply, and catch up afterwards: its lag rises during the
// outage and falls back to zero, and the peer ends equal to the source.
import { describe, expect, it } from 'vitest';
import { cleanupAfterEach } from '../support/cleanup.ts';
import { gatherStatus } from '../../ops/status.ts';
import { stackUrls, waitUntil } from '../support/index.ts';
import {
  continuousWriter,
  pipelineEnv,
  runInProcess,
  testApp,
  waitForPeerEqual,
} from '../support/pipeline.ts';
import { deadLetters, holdFor, metricValue, reconfigure, sampler, startProxy } from '../support/faults.ts';
import { expectBackedOffWithCause } from '../support/target-faults.ts';

const OUTAGE_MS = 20_000;
const urls = stackUrls();
const cleanups = cleanupAfterEach();

describe('target database down', () => {
  it('backs off and retries, shows ERR with the cause, lag rises and falls, peer ends equal', async () => {
    const proxy = await startProxy(urls.adminUrl);
    cleanups.push(() => proxy.stop());
    const e = await pipelineEnv(urls, 'tgtdown');
    cleanups.push(() => e.drop());
    reconfigure(e, (c) => {
      const t = c.targets[0]!;
      t.url = proxy.rewrite(t.url);
      c.operations.statusIntervalMs = 500; // lag polled and status published twice a second
    });
    const app = testApp(e.config);
    const pipeline = await runInProcess(app);
    cleanups.push(() => pipeline.stop());
    const consumer = pipeline.consumers[0]!;
    const writer = continuousWriter(e.source.url, 5);
    cleanups.push(() => writer.stop());
    const lag = () => metricValue(app, 'pgcdc_target_consumer_lag_events', { target: 'peer' });
    await waitUntil(() => consumer.status().applied > 100, { what: 'events to flow', timeoutMs: 60_000 });
    const lagBefore = await lag();
    const failedBefore = consumer.status().failed;

    await proxy.cut();
    const cutAt = Date.now();
    const samples = sampler(250, async () => ({
      at: Date.now() - cutAt,
      lag: await lag(),
      ...consumer.status(),
    }));
    const err = await waitUntil(() => consumer.status().state === 'ERR' && consumer.status(), {
      what: 'the target status to turn ERR',
      timeoutMs: 15_000,
    });
    // What an operator sees: `pgcdc status` (status topic record, published at once on ERR).
    const view = await waitUntil(
      async () => {
        const st = await gatherStatus(e.config, app.kafka);
        return st.targets[0]?.state === 'ERR' && st.targets[0];
      },
      { what: 'pgcdc status to show the target ERR', timeoutMs: 15_000 },
    );
    await holdFor(OUTAGE_MS - (Date.now() - cutAt));
    await proxy.restore();
    const restoredAt = Date.now() - cutAt;
    await waitUntil(() => consumer.status().state === 'OK', {
      what: 'the target to recover',
      timeoutMs: 60_000,
    });
    const recoveredAt = Date.now() - cutAt;
    const during = (await samples.stop()).filter((s) => s.at <= restoredAt);
    const counts = await writer.stop();
    await waitForPeerEqual(e);
    await waitUntil(async () => (await lag()) === 0, {
      what: 'the lag to fall back to 0',
      timeoutMs: 30_000,
    });

    // Every error shown during the outage names the connection problem, none blames the table;
    // backoff: a few attempts in 20 s, a hot loop would give hundreds.
    const failedDuring = expectBackedOffWithCause(
      err,
      during,
      cutAt,
      failedBefore,
      /target peer: .*(ECONNREFUSED|ECONNRESET|connect|terminat|Connection)/i,
    );
    expect(view.lastError).toMatch(/target peer/);
    expect(view.lastStatus).toBe('ERR');
    // Nothing is applied during the outage, and the lag grows while the writer goes on.
    const late = during.filter((s) => s.at > 2000);
    expect(
      late.every((s) => s.applied === late[0]!.applied),
      JSON.stringify(during.map((s) => [s.at, s.applied, s.state])),
    ).toBe(true);
    const lagMax = Math.max(...during.map((s) => s.lag));
    expect(lagMax).toBeGreaterThan(lagBefore + 100);
    expect(await deadLetters(app.kafka, e)).toEqual([]);
    console.log(
      `target down ${OUTAGE_MS / 1000} s: ${failedDuring} failed attempts; lag ${lagBefore} -> max ${lagMax} -> 0; ` +
        `OK again ${((recoveredAt - restoredAt) / 1000).toFixed(1)} s after the peer came back; writer ${counts.txns} txns; ` +
        `error: ${err.lastError}`,
    );
  }, 180_000);
});
