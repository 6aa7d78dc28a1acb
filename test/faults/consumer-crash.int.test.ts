// Fault: the Kafka client gives up. kafkajs restarts its consumer only after errors it deems
// retriable; after any other (a 'Failed to find group coordinator' it gives up on during a Kafka
// outage, an error marked not retriable) it stays disconnected, and a target would silently stop
// consuming. The adapter (pipeline/kafka/kafkajs-consumer.ts) starts it again with the backoff
// and reports the crash (the target's status): the batch is handled again from the committed
// offset, every message once it is done, and the offsets are committed.
import { expect, it } from 'vitest';
import type { BatchOutcome } from '../../pipeline/kafka/port.ts';
import { cleanupAfterEach, stackUrls, waitUntil } from '../support/index.ts';
import { pipelineEnv, testApp } from '../support/pipeline.ts';

const urls = stackUrls();
const cleanups = cleanupAfterEach();

it('a consumer crash kafkajs does not restart is restarted; nothing is lost', async () => {
  const e = await pipelineEnv(urls, 'crash');
  cleanups.push(() => e.drop());
  const app = testApp(e.config);
  const topic = `${e.config.kafka.topicPrefix}.crash`;
  const group = `${e.config.kafka.topicPrefix}.crash-group`;
  const admin = app.kafka.admin();
  await admin.connect();
  cleanups.push(() => admin.disconnect());
  await admin.ensureTopic({ topic, partitions: 1, replicationFactor: 1 });
  cleanups.push(() => admin.deleteTopic(topic));
  const producer = app.kafka.producer();
  await producer.connect();
  cleanups.push(() => producer.disconnect());
  await producer.send(
    topic,
    Array.from({ length: 20 }, (_, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.from(`v${i}`) })),
  );

  const handled: bigint[] = [];
  const crashes: { message: string; restartInMs: number }[] = [];
  let failed = false;
  const consumer = app.kafka.consumer(group);
  cleanups.push(() => consumer.stop());
  await consumer.run(
    topic,
    (batch): Promise<BatchOutcome> => {
      if (!failed) {
        failed = true; // the first batch: an error the client must not retry
        throw Object.assign(new Error('handler gave up'), { retriable: false });
      }
      handled.push(...batch.messages.map((m) => m.offset));
      return Promise.resolve({ kind: 'done' });
    },
    { onCrash: (err, restartInMs) => crashes.push({ message: (err as Error).message, restartInMs }) },
  );

  await waitUntil(() => Promise.resolve(handled.length >= 20), {
    what: 'all 20 messages handled after the crash',
    timeoutMs: 60_000,
  });
  expect(handled).toEqual(Array.from({ length: 20 }, (_, i) => BigInt(i)));
  expect(crashes).toHaveLength(1);
  expect(crashes[0]!.message).toMatch(/handler gave up/);
  expect(crashes[0]!.restartInMs).toBeGreaterThan(0);
  await waitUntil(
    async () => (await admin.groupOffsets(group, topic)).find((o) => o.partition === 0)?.offset === 20n,
    { what: 'offset 20 committed', timeoutMs: 30_000 },
  );
}, 120_000);
