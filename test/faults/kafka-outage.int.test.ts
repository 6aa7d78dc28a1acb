// Fault: the Kafka broker is stopped for 15 s while changes stream, then started again. The
// pipeline runs against a broker of the test's own (the shared one is never touched). The producer
// must wait and retry without losing or reordering any user's events, and must not let the slot
// advance past what Kafka has: while the broker is down, confirmed_flush_lsn is sampled; afterwards
// the topic (with broker-assigned LogAppendTime timestamps) shows when each event was really
// appended. Every event of a transaction the slot had confirmed at a sample must have been appended
// before that sample. The peer ends equal to the source.
import { describe, expect, it } from 'vitest';
import { cleanupAfterEach } from '../support/cleanup.ts';
import { formatLsn } from '../../schemas/lsn.ts';
import { stackUrls, waitUntil } from '../support/index.ts';
import {
  continuousWriter,
  pipelineEnv,
  runInProcess,
  slotConfirmedLsn,
  testApp,
  waitForPeerEqual,
} from '../support/pipeline.ts';
import {
  deadLetters,
  holdFor,
  lsn,
  metricValue,
  orderViolations,
  reconfigure,
  repeats,
  sampler,
  startOwnKafka,
  topicEvents,
} from '../support/faults.ts';

const OUTAGE_MS = 15_000;
const urls = stackUrls();
const cleanups = cleanupAfterEach();

describe('Kafka broker down', () => {
  it('the producer waits and retries; the slot never passes what Kafka acknowledged; order and state hold', async () => {
    const kafka = await startOwnKafka();
    cleanups.push(() => kafka.destroy());
    const e = await pipelineEnv({ ...urls, kafkaBrokers: kafka.brokers }, 'kafkadown');
    cleanups.push(() => e.drop());
    // The broker stamps each message when it appends it: the test's clock of what Kafka had when.
    reconfigure(e, (c) => (c.kafka.topicConfig = { 'message.timestamp.type': 'LogAppendTime' }));
    const app = testApp(e.config);
    const pipeline = await runInProcess(app);
    cleanups.push(() => pipeline.stop());
    const consumer = pipeline.consumers[0]!;
    const writer = continuousWriter(e.source.url, 3);
    cleanups.push(() => writer.stop());
    await waitUntil(() => consumer.status().applied > 100, { what: 'events to flow', timeoutMs: 60_000 });

    await kafka.stop();
    const downAt = Date.now();
    const samples = sampler(200, async () => ({ at: Date.now(), confirmed: lsn(await slotConfirmedLsn(e)) }));
    await holdFor(OUTAGE_MS);
    const outage = [...(await samples.stop())];
    const txnsInOutage = writer.counts.txns;
    await kafka.start();
    const upAt = Date.now();
    const appliedAtRestart = consumer.status().applied;
    await waitUntil(() => consumer.status().applied > appliedAtRestart + 100, {
      what: 'events to flow again after the restart',
      timeoutMs: 90_000,
    });
    const counts = await writer.stop();
    await waitForPeerEqual(e, 120_000);

    const events = await topicEvents(app, e.topic);
    const firstAppend = new Map<string, number>();
    for (const { event, message } of events) {
      const t = firstAppend.get(event.event_id);
      if (t === undefined || message.timestampMs < t) firstAppend.set(event.event_id, message.timestampMs);
    }
    // Each sample: everything of every transaction the slot confirmed was in Kafka before the sample.
    const premature: string[] = [];
    for (const s of outage) {
      for (const { event } of events) {
        if (event.source.commit_lsn < s.confirmed && firstAppend.get(event.event_id)! >= s.at)
          premature.push(`${event.event_id} appended after the slot confirmed ${formatLsn(s.confirmed)}`);
      }
    }
    expect(premature.slice(0, 5)).toEqual([]);
    const confirmedMax = outage.reduce((m, s) => (s.confirmed > m ? s.confirmed : m), 0n);
    const afterOutage = events.filter(({ event }) => firstAppend.get(event.event_id)! >= downAt);
    const firstLate = afterOutage.reduce(
      (m, { event }) => (event.source.commit_lsn < m ? event.source.commit_lsn : m),
      2n ** 64n,
    );
    const lastEarly = events
      .filter(({ event }) => firstAppend.get(event.event_id)! < downAt)
      .reduce((m, { event }) => (event.source.commit_lsn > m ? event.source.commit_lsn : m), 0n);
    expect(afterOutage.length).toBeGreaterThan(0); // the writer went on: events waited for Kafka
    expect(confirmedMax).toBeLessThan(firstLate);
    // While Kafka is away the slot stands still (after the last in-flight acknowledgement).
    const settled = outage.filter((s) => s.at - downAt > 2000);
    expect(new Set(settled.map((s) => s.confirmed)).size).toBe(1);

    expect(orderViolations(events)).toEqual([]);
    expect(await deadLetters(app.kafka, e)).toEqual([]);
    const restarts = await metricValue(app, 'pgcdc_producer_restarts_total');
    console.log(
      `kafka down ${OUTAGE_MS / 1000} s (+${((upAt - downAt - OUTAGE_MS) / 1000).toFixed(1)} s start-up): ` +
        `slot confirmed at most ${formatLsn(confirmedMax)} during the outage; last event appended before it ${formatLsn(lastEarly)}, ` +
        `first event appended after it ${formatLsn(firstLate)}; ${afterOutage.length} events appended after the outage began; ` +
        `${events.length} events (${repeats(events)} repeated), 0 out of order; producer restarts ${restarts}; ` +
        `writer ${counts.txns} txns (${txnsInOutage} by the end of the outage)`,
    );
  }, 300_000);
});
