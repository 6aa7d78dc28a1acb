// Fault: one huge transaction. A single INSERT of N rows (100,000 by default; 500,000 with
// PGCDC_SLOW_TESTS=1, which takes several minutes here) flows through `pgcdc produce` and
// `pgcdc consume` child processes. Every row arrives, and the peak resident memory (VmHWM) of both
// stays under a fixed bound whatever N: events are streamed out of the transaction as they arrive
// and Kafka sends apply back-pressure, so memory does not grow with the transaction.
import { describe, expect, it } from 'vitest';
import { cleanupAfterEach } from '../support/cleanup.ts';
import { stackUrls, waitUntil } from '../support/index.ts';
import { pipelineEnv, query, spawnCli, testApp, waitForPeerEqual } from '../support/pipeline.ts';
import { deadLetters, waitForStreaming } from '../support/faults.ts';

const SLOW = process.env.PGCDC_SLOW_TESTS === '1';
const ROWS = SLOW ? 500_000 : 100_000;
/** Peak RSS bound of each process, MiB (README: Guarantees, Memory). */
const RSS_BOUND_MB = 400;
const urls = stackUrls();
const cleanups = cleanupAfterEach();

describe('one huge transaction', () => {
  it(`${ROWS} rows in one transaction arrive complete; producer and consumer memory stay bounded`, async () => {
    const e = await pipelineEnv(urls, 'bigtx', { source: { snapshot: { mode: 'never' } } });
    cleanups.push(() => e.drop());
    const producer = spawnCli(['produce', '-c', e.configFile]);
    cleanups.push(() => producer.kill('SIGTERM'));
    const consumer = spawnCli(['consume', '-c', e.configFile, '--target', 'peer']);
    cleanups.push(() => consumer.kill('SIGTERM'));
    await waitForStreaming(e);
    for (const c of [producer, consumer])
      expect(c.proc.exitCode, `exited early:\n${c.output().slice(-3000)}`).toBeNull();
    const idle = { producer: producer.peakRssMb(), consumer: consumer.peakRssMb() };

    const started = Date.now();
    await query(
      e.source.url,
      `INSERT INTO users (email, username, bio, tags, balance)
       SELECT 'big' || i || '@x.io', 'u' || i, repeat('x', 200), ARRAY['a', 'b'], i / 100.0 FROM generate_series(1, $1::int) i`,
      [ROWS],
    );
    const committed = Date.now();
    await waitUntil(
      async () =>
        (await query<{ n: number }>(e.peer.url, 'SELECT count(*)::int AS n FROM users'))[0]?.n === ROWS,
      { timeoutMs: SLOW ? 1_200_000 : 300_000, intervalMs: 1000, what: `${ROWS} rows at the peer` },
    );
    const seconds = (Date.now() - committed) / 1000;
    const peak = { producer: producer.peakRssMb(), consumer: consumer.peakRssMb() };
    console.log(
      `${ROWS}-row transaction: committed in ${((committed - started) / 1000).toFixed(1)} s, at the peer ${seconds.toFixed(1)} s later ` +
        `(${Math.round(ROWS / seconds)} rows/s); peak RSS producer ${peak.producer} MiB (idle ${idle.producer}), ` +
        `consumer ${peak.consumer} MiB (idle ${idle.consumer}); bound ${RSS_BOUND_MB} MiB each`,
    );
    expect(peak.producer).toBeLessThan(RSS_BOUND_MB);
    expect(peak.consumer).toBeLessThan(RSS_BOUND_MB);
    await waitForPeerEqual(e, 300_000);
    expect(await deadLetters(testApp(e.config).kafka, e)).toEqual([]);
  }, 1_800_000);
});
