// Fault: Kafka stops acknowledging while changes stream, and the producer's message handler stands
// still (the publisher's queue is full). pgcdc does not read the replication connection meanwhile,
// so the server's walsender could block on a client that never reads (a slot invalidation then
// hangs the checkpointer). With source.stallTimeoutMs the producer closes the replication
// connection once a change has waited that long and reconnects with the backoff: during the
// outage the walsender that streamed before it must be gone, the failure is logged with its
// reason, and after the broker returns nothing is lost, duplicated out of order or dead-lettered.
import { describe, expect, it } from 'vitest';
import { cleanupAfterEach } from '../support/cleanup.ts';
import { stackUrls, waitUntil } from '../support/index.ts';
import { continuousWriter, pipelineEnv, query, runInProcess, waitForPeerEqual } from '../support/pipeline.ts';
import {
  appWithLog,
  deadLetters,
  holdFor,
  metricValue,
  orderViolations,
  reconfigure,
  sampler,
  startOwnKafka,
  topicEvents,
  waitForStreaming,
} from '../support/faults.ts';

const STALL_MS = 3_000;
/** longer than the watchdog plus its check interval and a reconnect, far shorter than kafkajs's own request timeouts */
const OUTAGE_MS = 15_000;
const urls = stackUrls();
const cleanups = cleanupAfterEach();

describe('Kafka stops acknowledging (stall watchdog)', () => {
  it('the replication connection is closed after source.stallTimeoutMs and resumes without loss', async () => {
    const kafka = await startOwnKafka();
    cleanups.push(() => kafka.destroy());
    const e = await pipelineEnv({ ...urls, kafkaBrokers: kafka.brokers }, 'stall');
    cleanups.push(() => e.drop());
    reconfigure(e, (c) => (c.source.stallTimeoutMs = STALL_MS));
    const { app, lines } = appWithLog(e.config);
    const pipeline = await runInProcess(app);
    cleanups.push(() => pipeline.stop());
    const consumer = pipeline.consumers[0]!;
    const writer = continuousWriter(e.source.url, 5);
    cleanups.push(() => writer.stop());
    await waitUntil(() => consumer.status().applied > 100, { what: 'events to flow', timeoutMs: 60_000 });
    await waitForStreaming(e);
    const walsender = async () =>
      (
        await query<{ active_pid: number | null }>(
          e.source.url,
          'SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1',
          [e.config.source.slot],
        )
      )[0]?.active_pid ?? null;
    const before = await walsender();
    expect(before).not.toBeNull();

    await kafka.stop();
    const downAt = Date.now();
    const pids = sampler(250, async () => ({ at: Date.now() - downAt, pid: await walsender() }));
    await holdFor(OUTAGE_MS);
    const samples = await pids.stop();
    // The backend of the walsender that streamed before the outage has ended (not just detached).
    const oldBackend = await query(e.source.url, 'SELECT 1 FROM pg_stat_activity WHERE pid = $1', [before]);
    await kafka.start();

    const gone = samples.find((s) => s.pid !== before);
    expect(gone, `walsender ${before} still streamed the slot ${OUTAGE_MS} ms into the outage`).toBeDefined();
    expect(oldBackend).toEqual([]);
    expect(lines.some((l) => JSON.stringify(l).includes('to be handed over to Kafka'))).toBe(true);

    const appliedAtRestart = consumer.status().applied;
    await waitUntil(() => consumer.status().applied > appliedAtRestart + 100, {
      what: 'events to flow again after the broker returned',
      timeoutMs: 90_000,
    });
    await waitForStreaming(e);
    const counts = await writer.stop();
    await waitForPeerEqual(e, 120_000);
    const events = await topicEvents(app, e.topic);
    expect(orderViolations(events)).toEqual([]);
    expect(await deadLetters(app.kafka, e)).toEqual([]);
    const restarts = await metricValue(app, 'pgcdc_producer_restarts_total');
    expect(restarts).toBeGreaterThanOrEqual(1);
    console.log(
      `stall watchdog ${STALL_MS} ms: walsender ${before} gone ${gone!.at} ms after the broker stopped; ` +
        `producer restarts ${restarts}; ${events.length} events, writer ${counts.txns} txns`,
    );
  }, 300_000);
});
