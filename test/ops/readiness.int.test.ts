// Readiness and the operations gauges against the real stack: the slot stalls (Kafka holds every
// send, WAL keeps moving, the confirmed LSN does not) -> not ready, pgcdc_producer_ready 0; back
// to ready once Kafka acknowledges. A target that keeps failing -> not ready, pgcdc_target_up 0.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { App } from '../../pipeline/compose.ts';
import type { KafkaClientFactory, KafkaProducerPort } from '../../pipeline/kafka/port.ts';
import { stackUrls, waitUntil } from '../support/index.ts';
import {
  dropPipelineEnv,
  pipelineEnv,
  query,
  runPipeline,
  testApp,
  waitForPeerEqual,
} from '../support/pipeline.ts';
import type { PipelineEnv } from '../support/pipeline.ts';

let env: PipelineEnv;
let app: App;
const stops: (() => Promise<unknown>)[] = [];
let held = false;
let release: () => void = () => undefined;
let released = Promise.resolve();

/** Sends to the change topic wait while `held` (status and DLQ writes go through). */
function holdable(inner: KafkaClientFactory): KafkaClientFactory {
  const wrap = (p: KafkaProducerPort): KafkaProducerPort => ({
    connect: () => p.connect(),
    disconnect: () => p.disconnect(),
    async send(topic, messages) {
      while (held && topic === env.topic) await released;
      return p.send(topic, messages);
    },
  });
  return { ...inner, producer: () => wrap(inner.producer()) };
}

const gauge = async (g: { get(): Promise<{ values: { value: number; labels: object }[] }> }, labels = {}) =>
  (await g.get()).values.find((v) => JSON.stringify(v.labels) === JSON.stringify(labels))?.value;

beforeAll(async () => {
  env = await pipelineEnv(stackUrls(), 'ready', {
    operations: { slotPollIntervalMs: 300, slotStallMs: 2000, targetStuckMs: 1500, statusIntervalMs: 500 },
  });
  app = testApp(env.config, holdable);
});

afterAll(async () => {
  held = false;
  release();
  for (const stop of stops.splice(0).reverse()) await stop();
  await dropPipelineEnv(env, app.kafka);
});

it('a stalled slot and a failing target make the pipeline unready, and ready again once fixed', async () => {
  const { producer, consumer } = await runPipeline(app, stops);
  await query(env.source.url, "INSERT INTO users (email, username) VALUES ('a@example.org', 'a')");
  await waitForPeerEqual(env);
  await waitUntil(async () => producer.readiness().ok && (await gauge(app.metrics.producerReady)) === 1, {
    what: 'the producer to be ready',
  });
  expect(await gauge(app.metrics.slotWalRetained)).toBeGreaterThan(0);
  expect(await gauge(app.metrics.targetUp, { target: 'peer' })).toBe(1);
  expect(consumer.readiness().ok).toBe(true);

  // Kafka holds every send: WAL moves on (inserts), the slot's confirmed LSN does not
  held = true;
  released = new Promise((r) => (release = r));
  await query(
    env.source.url,
    "INSERT INTO users (email, username) SELECT 's' || g || '@example.org', 's' || g FROM generate_series(1, 20) g",
  );
  const stalled = await waitUntil(
    async () => {
      const r = producer.readiness();
      return !r.ok && (await gauge(app.metrics.producerReady)) === 0 && r;
    },
    { what: 'the stalled slot to make the producer unready', timeoutMs: 30_000 },
  );
  expect(stalled.problems.join('\n')).toMatch(
    /slot \S+ stalled: confirmed LSN has not moved for \d+ s while WAL grew/,
  );
  held = false;
  release();
  await waitUntil(async () => producer.readiness().ok && (await gauge(app.metrics.producerReady)) === 1, {
    what: 'the producer to be ready again',
    timeoutMs: 30_000,
  });
  await waitForPeerEqual(env);

  // the target's table disappears: every apply fails and is retried
  await query(env.peer.url, 'ALTER TABLE users RENAME TO users_away');
  await query(env.source.url, "INSERT INTO users (email, username) VALUES ('t@example.org', 't')");
  const stuck = await waitUntil(() => !consumer.readiness().ok && consumer.readiness(), {
    what: 'the failing target to make the consumer unready',
    timeoutMs: 30_000,
  });
  expect(stuck.problems.join('\n')).toMatch(/target peer: failing for \d+ s: .*users/);
  expect(await gauge(app.metrics.targetUp, { target: 'peer' })).toBe(0);
  await query(env.peer.url, 'ALTER TABLE users_away RENAME TO users');
  await waitForPeerEqual(env);
  await waitUntil(
    async () => consumer.readiness().ok && (await gauge(app.metrics.targetUp, { target: 'peer' })) === 1,
    {
      what: 'the target to recover',
    },
  );
});
