// How a webhook target answers a receiver's failures: timeouts are retried and counted, a 410 is
// dead-lettered at once (status, body excerpt and attempts in the DLQ headers, target status ERR)
// while delivery goes on, and a 429 with Retry-After: 1 makes the next attempt wait a second.
import { describe, expect, it } from 'vitest';
import { readDeadLetters } from '../../consumers/redrive.ts';
import { WEBHOOK_DLQ_HEADERS } from '../../consumers/webhook/sink.ts';
import { DLQ_HEADERS } from '../../consumers/dlq.ts';
import { createEventCodec } from '../../schemas/codec.ts';
import { loadContract } from '../../schemas/contract.ts';
import { stackUrls, waitUntil } from '../support/index.ts';
import { closeAfterEach, delivered, insertUser, startReceiver, webhookPipeline } from '../support/webhook.ts';

closeAfterEach();

describe('webhook failures', () => {
  it('a receiver that does not answer: timeouts are retried and counted', async () => {
    const receiver = await startReceiver((_req, nth) => (nth <= 2 ? 'hang' : { status: 204 }));
    // Long enough that the answered third request is read before its own timeout even when this
    // process's event loop lags (a timer due and a response ready: timers run first).
    const pipeline = await webhookPipeline(stackUrls(), 'wh_timeout', receiver.url, { responseTimeout: 1.5 });
    await pipeline.startConsumer();
    await insertUser(pipeline, 'slow');
    await waitUntil(() => delivered(receiver).length === 1, { what: 'the delivery', timeoutMs: 30_000 });
    expect(receiver.received.map((r) => r.answer)).toEqual(['hang', 'hang', 204]);
    expect(new Set(receiver.received.map((r) => r.id)).size).toBe(1);
    expect(await pipeline.metric('webhookResponses', { code: 'timeout' })).toBe(2);
    expect(await pipeline.metric('webhookRetries')).toBe(2);
    // the receiver saw the request before the sink read its answer and the consumer counted it
    await waitUntil(() => pipeline.consumer!.status().applied === 1, { what: 'the delivery counted' });
    expect(pipeline.consumer!.status()).toMatchObject({ state: 'OK', applied: 1 });
  });

  it('410 goes straight to the dead-letter topic; delivery goes on', async () => {
    let goneId: string | undefined;
    const receiver = await startReceiver((req) => {
      if (req.body.after?.username === 'gone') {
        goneId = req.id;
        return { status: 410, body: 'this hook is gone for good' };
      }
      return { status: 200 };
    });
    const p = await webhookPipeline(stackUrls(), 'wh_gone', receiver.url);
    await p.startConsumer();
    const gone = await insertUser(p, 'gone');
    await waitUntil(() => p.consumer!.status().deadLettered === 1, {
      what: 'the dead letter',
      timeoutMs: 30_000,
    });
    expect(receiver.received.filter((r) => r.id === goneId)).toHaveLength(1);
    const st = p.consumer!.status();
    expect(st.state).toBe('ERR');
    expect(st.lastError).toContain('webhook-rejected');
    expect(st.lastError).toContain('HTTP 410: this hook is gone for good after 1 attempt(s)');

    // Delivery goes on; the state recovers, the last error stays visible.
    await insertUser(p, 'fine');
    await waitUntil(() => delivered(receiver).length === 1, {
      what: 'the next delivery',
      timeoutMs: 30_000,
    });
    await waitUntil(() => p.consumer!.status().state === 'OK', { what: 'state OK', timeoutMs: 10_000 });
    expect(p.consumer!.status().lastError).toContain('HTTP 410');

    const codec = await createEventCodec({
      registryUrl: p.config.registry.url,
      topic: p.topic,
      contract: loadContract(),
    });
    const entries = await readDeadLetters({
      kafka: p.app.kafka,
      codec,
      dlqTopic: p.dlqTopic,
      group: p.group,
    });
    expect(entries).toHaveLength(1);
    const e = entries[0]!;
    expect(e).toMatchObject({ reason: 'webhook-rejected', attempts: 1, redriven: false });
    expect(e.message.headers[WEBHOOK_DLQ_HEADERS.status]).toBe('410');
    expect(e.message.headers[WEBHOOK_DLQ_HEADERS.body]).toBe('this hook is gone for good');
    expect(e.message.headers[DLQ_HEADERS.target]).toBe('hooks');
    expect(e.decoded?.event.event_id).toBe(goneId);
    expect(String(e.decoded?.key.id)).toBe(gone);
    expect(e.origin?.topic).toBe(p.topic);
  });

  it('429 with Retry-After: 1 waits a second before the next attempt', async () => {
    const receiver = await startReceiver((_req, nth) =>
      nth === 1 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 200 },
    );
    const pipeline = await webhookPipeline(stackUrls(), 'wh_429', receiver.url);
    await pipeline.startConsumer();
    await insertUser(pipeline, 'limited');
    await waitUntil(() => delivered(receiver).length === 1, { what: 'the delivery', timeoutMs: 30_000 });
    const [first, second] = receiver.received;
    expect([first!.answer, second!.answer]).toEqual([429, 200]);
    // backoff alone would be 50 ms here
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(950);
  });
});
