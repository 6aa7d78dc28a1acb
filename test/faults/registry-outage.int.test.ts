// Fault: the schema registry is unreachable when the pipeline starts (it reaches the registry
// through a TCP proxy the test holds closed). `pgcdc produce` and `pgcdc consume` run as child
// processes: they must stay up, say clearly what is wrong (log lines with the fix, /readyz), retry
// with growing delays (pgcdc_producer_restarts_total counts the producer's), and work once the
// registry is back: changes made during the outage wait in the slot and reach the peer.
import { describe, expect, it } from 'vitest';
import { cleanupAfterEach } from '../support/cleanup.ts';
import { stackUrls, waitUntil } from '../support/index.ts';
import { pipelineEnv, query, spawnCli, testApp, waitForPeerEqual } from '../support/pipeline.ts';
import { deadLetters, freePort, holdFor, reconfigure, scrapeMetric, startProxy } from '../support/faults.ts';

const OUTAGE_MS = 10_000;
const urls = stackUrls();
const cleanups = cleanupAfterEach();

interface LogLine {
  msg?: string;
  err?: string;
  retryInMs?: number;
  retriable?: boolean;
}

const logLines = (out: string): LogLine[] =>
  out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine);

describe('schema registry down at producer start', () => {
  it('the producer stays up, says why, retries with backoff, and streams once it is back', async () => {
    const proxy = await startProxy(urls.registryUrl);
    cleanups.push(() => proxy.stop());
    await proxy.cut();
    const e = await pipelineEnv(urls, 'regdown');
    cleanups.push(() => e.drop());
    const app = testApp(e.config);
    reconfigure(e, (c) => (c.registry.url = proxy.rewrite(c.registry.url)));

    const port = await freePort();
    const child = spawnCli(['produce', '-c', e.configFile, '--metrics-port', String(port)]);
    cleanups.push(() => child.kill('SIGTERM'));
    const consumer = spawnCli(['consume', '-c', e.configFile, '--target', 'peer', '--metrics-port', '0']);
    cleanups.push(() => consumer.kill('SIGTERM'));
    const startedAt = Date.now();
    // The slot is created before the registry is needed: changes from now on are kept for later.
    await waitUntil(
      async () =>
        (
          await query(e.source.url, 'SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [
            e.config.source.slot,
          ])
        ).length > 0,
      { what: 'the slot to be created', timeoutMs: 60_000 },
    );
    await query(
      e.source.url,
      "INSERT INTO users (email, username) SELECT 'r' || i || '@x.io', 'r' || i FROM generate_series(1, 200) i",
    );
    const restarts = await waitUntil(
      async () => {
        const n = await scrapeMetric(port, 'pgcdc_producer_restarts_total');
        return n !== undefined && n >= 3 && n;
      },
      { what: 'three producer restarts', timeoutMs: 60_000 },
    );
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    const readyBody = await ready.text();
    expect(ready.status).toBe(503);
    expect(readyBody).toMatch(/schema registry .* unreachable/);
    await holdFor(OUTAGE_MS - (Date.now() - startedAt));
    // no crash: the same processes are still there
    expect(child.proc.exitCode).toBeNull();
    expect(consumer.proc.exitCode, consumer.output()).toBeNull();
    const restartsInOutage = (await scrapeMetric(port, 'pgcdc_producer_restarts_total'))!;
    await proxy.restore();
    await query(e.source.url, "UPDATE users SET city = 'after-outage' WHERE id % 4 = 0");
    await waitForPeerEqual(e);
    expect(await scrapeMetric(port, 'pgcdc_producer_restarts_total')).toBe(restartsInOutage);
    await waitUntil(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200, {
      what: 'the producer to be ready',
    });
    expect(child.proc.exitCode).toBeNull();
    expect(consumer.proc.exitCode).toBeNull();

    const failures = logLines(child.output()).filter((l) => l.msg === 'producer stream failed; restarting');
    expect(failures.length).toBeGreaterThanOrEqual(3);
    expect(failures[0]!.err).toMatch(
      /schema registry http:\/\/127\.0\.0\.1:\d+\/apis\/ccompat\/v7 unreachable/,
    );
    expect(failures[0]!.err).toMatch(/fix: start the registry or fix registry\.url/);
    expect(failures.every((l) => l.retriable === true)).toBe(true);
    const delays = failures.map((l) => l.retryInMs!);
    for (let i = 1; i < delays.length; i++) expect(delays[i]).toBeGreaterThan(delays[i - 1]!);
    const waits = logLines(consumer.output()).filter(
      (l) => l.msg === 'schema registry unreachable; retrying',
    );
    expect(waits.length).toBeGreaterThanOrEqual(2);
    expect(waits[0]!.err).toMatch(/unreachable.*\n {2}fix: start the registry/s);
    expect(await deadLetters(app.kafka, e)).toEqual([]);
    console.log(
      `registry down ${OUTAGE_MS / 1000} s at start: producer ${restartsInOutage} restarts (3 after ${restarts}), delays ${delays.join(', ')} ms; ` +
        `consumer waited ${waits.length} times (${waits.map((w) => w.retryInMs).join(', ')} ms); ` +
        `first error: ${failures[0]!.err}`,
    );
  }, 180_000);
});
