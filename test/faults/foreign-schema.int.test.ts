// Fault: messages in the change topic framed with a schema the registry knows but that is not the
// contract's value schema: an unrelated record registered under another subject, and the topic's
// own key schema framing a value. They decode as Avro, but they are not change events: they go to
// the dead-letter topic as undecodable with a reason naming the schema id, at once (not retried
// forever as a failing apply), and the events after them are applied.
import { describe, expect, it } from 'vitest';
import { cleanupAfterEach } from '../support/cleanup.ts';
import { DLQ_HEADERS } from '../../consumers/dlq.ts';
import { avroType, toWire } from '../../schemas/avro.ts';
import { createEventCodec } from '../../schemas/codec.ts';
import { loadContract } from '../../schemas/contract.ts';
import { randomName, stackUrls, waitUntil } from '../support/index.ts';
import { pipelineEnv, query, runInProcess, testApp, waitForPeerEqual } from '../support/pipeline.ts';
import { deadLetters } from '../support/faults.ts';

const urls = stackUrls();
const cleanups = cleanupAfterEach();

describe('messages framed with a schema that is not a change event', () => {
  it('are dead-lettered as undecodable at once; the events after them are applied', async () => {
    const e = await pipelineEnv(urls, 'foreign');
    cleanups.push(() => e.drop());
    const app = testApp(e.config);
    const pipeline = await runInProcess(app);
    cleanups.push(() => pipeline.stop());
    await query(
      e.source.url,
      "INSERT INTO users (email, username) SELECT 'f' || i || '@x.io', 'f' || i FROM generate_series(1, 30) i",
    );
    await waitForPeerEqual(e);

    const codec = await createEventCodec({
      registryUrl: e.config.registry.url,
      topic: e.topic,
      contract: loadContract(),
    });
    const invoice = { type: 'record', name: 'Invoice', fields: [{ name: 'n', type: 'long' }] };
    const subject = `${randomName('invoices')}-value`;
    const res = await fetch(`${e.config.registry.url}/subjects/${subject}/versions`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
      body: JSON.stringify({ schema: JSON.stringify(invoice) }),
    });
    expect(res.status).toBe(200);
    const invoiceId = ((await res.json()) as { id: number }).id;
    cleanups.push(() => fetch(`${e.config.registry.url}/subjects/${subject}`, { method: 'DELETE' }));
    const foreign = [
      {
        key: codec.encodeKey({ id: 1n }),
        value: toWire(invoiceId, avroType(invoice).toBuffer({ n: 3n })),
        why: new RegExp(`schema id ${invoiceId} is not the value schema of ${e.topic}`),
      },
      {
        key: codec.encodeKey({ id: 2n }),
        value: codec.encodeKey({ id: 2n }),
        why: new RegExp(`schema id ${codec.keySchemaId} is not the value schema of ${e.topic}`),
      },
    ];
    const producer = app.kafka.producer();
    await producer.connect();
    await producer.send(
      e.topic,
      foreign.map((f) => ({ key: f.key, value: f.value })),
    );
    await producer.disconnect();
    await query(e.source.url, "UPDATE users SET city = 'after-foreign', updated_at = now()");
    await waitForPeerEqual(e, 60_000);

    const dead = await waitUntil(
      async () => {
        const d = await deadLetters(app.kafka, e);
        return d.length >= 2 && d;
      },
      { what: 'two dead letters' },
    );
    expect(dead).toHaveLength(2);
    for (const f of foreign) {
      const d = dead.find((m) => m.value?.equals(f.value));
      expect(d, f.why.source).toBeDefined();
      expect(d!.headers[DLQ_HEADERS.reason]).toBe('undecodable');
      expect(d!.headers[DLQ_HEADERS.error]).toMatch(f.why);
      expect(d!.headers[DLQ_HEADERS.attempts]).toBe('1');
    }
    const status = pipeline.consumers[0]!.status();
    expect(status.deadLettered).toBe(2);
    expect(status.failed).toBe(0);
    console.log(`foreign schemas: ${dead.map((d) => d.headers[DLQ_HEADERS.error]).join(' | ')}`);
  });
});
