// Fault: poison messages in the change topic. Bytes that are not an event (no Confluent framing),
// a framed message with a schema id the registry does not know, and a known id with a corrupt Avro
// body are written among real events. Each goes to the dead-letter topic with its reason and the
// original bytes and position; the consumer carries on with the next events of the same partition.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { cleanupAfterEach } from '../support/cleanup.ts';
import { DLQ_HEADERS } from '../../consumers/dlq.ts';
import { createEventCodec } from '../../schemas/codec.ts';
import { toWire } from '../../schemas/avro.ts';
import { loadContract } from '../../schemas/contract.ts';
import { stackUrls, waitUntil } from '../support/index.ts';
import { pipelineEnv, query, runInProcess, testApp, waitForPeerEqual } from '../support/pipeline.ts';
import { deadLetters, metricValue } from '../support/faults.ts';

const urls = stackUrls();
const cleanups = cleanupAfterEach();

describe('poison messages', () => {
  it('go to the dead-letter topic with the reason; the events after them are applied', async () => {
    const e = await pipelineEnv(urls, 'poison');
    cleanups.push(() => e.drop());
    const app = testApp(e.config);
    const pipeline = await runInProcess(app);
    cleanups.push(() => pipeline.stop());
    await query(
      e.source.url,
      "INSERT INTO users (email, username) SELECT 'p' || i || '@x.io', 'p' || i FROM generate_series(1, 60) i",
    );
    await waitForPeerEqual(e);

    const codec = await createEventCodec({
      registryUrl: e.config.registry.url,
      topic: e.topic,
      contract: loadContract(),
    });
    const unknownId = 2_147_480_000;
    const garbage = Buffer.concat([Buffer.from([0x7f]), randomBytes(63)]);
    const poison = [
      // not Confluent-framed at all (first byte is not the magic 0)
      { key: Buffer.concat([Buffer.from([0x7f]), randomBytes(15)]), value: garbage, why: /not in Confluent/ },
      // framed, but the registry has no such schema id
      {
        key: codec.encodeKey({ id: 1n }),
        value: toWire(unknownId, randomBytes(40)),
        why: new RegExp(`unknown schema id ${unknownId}`),
      },
      // the pipeline's own value schema id, but a body that is not an event
      {
        key: codec.encodeKey({ id: 2n }),
        value: toWire(codec.valueSchemaId, Buffer.from([0x02, 0xff, 0xff])),
        why: /Avro decoding with schema id/,
      },
    ];
    const producer = app.kafka.producer();
    await producer.connect();
    await producer.send(
      e.topic,
      poison.map((p) => ({ key: p.key, value: p.value })),
    );
    await producer.disconnect();

    // Changes after the poison, in every partition (ids 1 and 2 share partitions with two of them).
    await query(e.source.url, "UPDATE users SET city = 'after-poison', updated_at = now() WHERE id <= 30");
    await query(e.source.url, 'DELETE FROM users WHERE id BETWEEN 50 AND 55');
    await waitForPeerEqual(e);

    const status = pipeline.consumers[0]!.status();
    expect(status.deadLettered).toBe(3);
    expect(await metricValue(app, 'pgcdc_target_dead_lettered_events_total', { reason: 'undecodable' })).toBe(
      3,
    );
    const dead = await waitUntil(
      async () => {
        const d = await deadLetters(app.kafka, e);
        return d.length >= 3 && d;
      },
      { what: 'three dead letters' },
    );
    expect(dead).toHaveLength(3);
    for (const p of poison) {
      const d = dead.find((m) => m.value?.equals(p.value));
      expect(d, `dead letter for ${p.why.source}`).toBeDefined();
      expect(d!.key?.equals(p.key)).toBe(true);
      expect(d!.headers[DLQ_HEADERS.reason]).toBe('undecodable');
      expect(d!.headers[DLQ_HEADERS.error]).toMatch(p.why);
      expect(d!.headers[DLQ_HEADERS.topic]).toBe(e.topic);
      expect(d!.headers[DLQ_HEADERS.target]).toBe('peer');
      expect(d!.headers[DLQ_HEADERS.offset]).toMatch(/^\d+$/);
    }
    console.log(
      `poison: ${dead.length} dead letters: ${dead.map((d) => `${d.headers[DLQ_HEADERS.partition]}:${d.headers[DLQ_HEADERS.offset]} ${d.headers[DLQ_HEADERS.error]?.slice(0, 60)}`).join(' | ')}`,
    );
  });
});
