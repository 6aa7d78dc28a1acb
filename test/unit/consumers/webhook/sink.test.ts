// consumers/webhook/sink.ts with a scripted in-memory transport (the real HTTP path is covered by
// test/webhook/*.int.test.ts): per-user order under concurrency and retries, dead letters, block
// mode, the circuit breaker, batching, abort. Timings are milliseconds.
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import type { DecodedEvent } from '../../../../consumers/sink.ts';
import {
  TransportError,
  type WebhookResponse,
  type WebhookTransport,
} from '../../../../consumers/webhook/http.ts';
import { batchId } from '../../../../consumers/webhook/plan.ts';
import { DeliveryAborted, WEBHOOK_DLQ_HEADERS, WebhookSink } from '../../../../consumers/webhook/sink.ts';
import { verifyWebhook } from '../../../../consumers/webhook/verify.ts';
import { WebhookTargetSchema } from '../../../../pipeline/config/schema.ts';
import { createLogger } from '../../../../pipeline/observability/logger.ts';
import { createMetrics } from '../../../../pipeline/observability/metrics.ts';
import { loadContract } from '../../../../schemas/contract.ts';
import { changeEvent } from '../../support/events.ts';

const { columns } = loadContract();
const SECRET = 'whsec_' + Buffer.from('unit test key').toString('base64');

interface Sent {
  id: string;
  body: unknown;
  headers: Record<string, string>;
  rawBody: string;
  at: number;
}

type Answer = number | 'timeout' | 'refused' | { status: number; retryAfter?: string; body?: string };

/** Answers by script(request, n-th attempt of that webhook-id); records everything sent. */
function scripted(script: (id: string, attempt: number) => Answer, latencyMs = 1) {
  const sent: Sent[] = [];
  const attempts = new Map<string, number>();
  let inFlight = 0;
  let maxInFlight = 0;
  const transport: WebhookTransport = {
    async post(_url, headers, body): Promise<WebhookResponse> {
      const id = headers['webhook-id']!;
      const n = (attempts.get(id) ?? 0) + 1;
      attempts.set(id, n);
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        await new Promise((r) => setTimeout(r, latencyMs));
        sent.push({ id, body: JSON.parse(body), headers, rawBody: body, at: performance.now() });
        const a = script(id, n);
        if (a === 'timeout') throw new TransportError('timeout', 'no response within 5 ms');
        if (a === 'refused') throw new TransportError('network', 'ECONNREFUSED: connect ECONNREFUSED');
        const r = typeof a === 'number' ? { status: a } : a;
        return { status: r.status, retryAfter: r.retryAfter, bodyExcerpt: r.body ?? '' };
      } finally {
        inFlight--;
      }
    },
    close: () => Promise.resolve(),
  };
  return { transport, sent, maxInFlight: () => maxInFlight };
}

function sinkWith(transport: WebhookTransport, over: Record<string, unknown> = {}) {
  const cfg = WebhookTargetSchema.parse({
    name: 'hooks',
    type: 'webhook',
    url: 'http://127.0.0.1:1/hook?token=secret',
    secret: SECRET,
    backoff: { initial: 0.001, max: 0.004, jitter: 0 },
    maxAttempts: 4,
    concurrency: 4,
    circuitBreaker: { failureThreshold: 1000, cooldown: 0.05 },
    ...over,
  });
  const metrics = createMetrics();
  const sink = new WebhookSink(cfg, columns, {
    logger: createLogger({ level: 'silent' }),
    metrics,
    transport,
  });
  return { sink, metrics };
}

let offset = 0n;
function ev(user: number, id: string): DecodedEvent {
  const event = changeEvent({ source: { db: 'db', lsn: 1n, commit_lsn: 1n }, op: 'd', event_id: id });
  return { offset: offset++, key: { id: BigInt(user) }, event };
}

const idsOf = (sent: Sent[], user: number) =>
  sent.filter((s) => (s.body as { key: { id: string } }).key.id === String(user)).map((s) => s.id);

describe('WebhookSink', () => {
  it('keeps per-user order while users proceed concurrently, retrying the failing one', async () => {
    // user 1's first event fails twice; users 2 and 3 must not wait for it.
    const t = scripted((id, n) => (id === 'u1-a' && n <= 2 ? 500 : 200), 3);
    const { sink, metrics } = sinkWith(t.transport);
    const events = [ev(1, 'u1-a'), ev(2, 'u2-a'), ev(1, 'u1-b'), ev(3, 'u3-a'), ev(2, 'u2-b'), ev(1, 'u1-c')];
    const res = await sink.apply(events);
    expect(res.deadLetters).toEqual([]);
    expect(res.applied.map((e) => e.event.event_id)).toEqual(events.map((e) => e.event.event_id));
    expect(idsOf(t.sent, 1)).toEqual(['u1-a', 'u1-a', 'u1-a', 'u1-b', 'u1-c']);
    expect(idsOf(t.sent, 2)).toEqual(['u2-a', 'u2-b']);
    // user 2 finished before user 1's retried first event got through
    const firstOk = t.sent.filter((s) => s.id === 'u1-a')[2]!.at;
    expect(t.sent.find((s) => s.id === 'u2-b')!.at).toBeLessThan(firstOk);
    expect(t.maxInFlight()).toBeGreaterThan(1);
    const retries = await metrics.webhookRetries.get();
    expect(retries.values[0]?.value).toBe(2);
    const codes = (await metrics.webhookResponses.get()).values.map((v) => [v.labels.code, v.value]);
    expect(codes).toEqual(
      expect.arrayContaining([
        ['500', 2],
        ['200', 6],
      ]),
    );
  });

  it('signs every attempt with the same webhook-id and a fresh body (attempt number)', async () => {
    const t = scripted((_id, n) => (n < 3 ? 503 : 204));
    const { sink } = sinkWith(t.transport);
    await sink.apply([ev(7, 'evt_same')]);
    expect(t.sent.map((s) => s.id)).toEqual(['evt_same', 'evt_same', 'evt_same']);
    expect(t.sent.map((s) => (s.body as { delivery: { attempt: number } }).delivery.attempt)).toEqual([
      1, 2, 3,
    ]);
    for (const s of t.sent) {
      expect(verifyWebhook({ secret: SECRET, headers: s.headers, body: s.rawBody })).toMatchObject({
        ok: true,
      });
      // what a receiver using the reference Standard Webhooks library sees
      expect(new Webhook(SECRET).verify(s.rawBody, s.headers)).toMatchObject({ id: 'evt_same' });
      expect(s.headers['content-type']).toBe('application/json');
    }
  });

  it('dead-letters after maxAttempts and on a permanent 4xx, then goes on with the same user', async () => {
    const t = scripted((id) =>
      id === 'gone' ? { status: 410, body: 'no such hook' } : id === 'flaky' ? 'timeout' : 200,
    );
    const { sink } = sinkWith(t.transport);
    const events = [ev(1, 'flaky'), ev(1, 'after-flaky'), ev(2, 'gone'), ev(2, 'after-gone')];
    const res = await sink.apply(events);
    expect(res.applied.map((e) => e.event.event_id)).toEqual(['after-flaky', 'after-gone']);
    expect(res.deadLetters).toEqual([
      {
        offset: events[0]!.offset,
        reason: 'webhook-failed',
        error: 'http://127.0.0.1:1/hook answered no response within 5 ms after 4 attempt(s)',
        attempts: 4,
        headers: { [WEBHOOK_DLQ_HEADERS.status]: 'timeout', [WEBHOOK_DLQ_HEADERS.body]: '' },
      },
      {
        offset: events[2]!.offset,
        reason: 'webhook-rejected',
        error: 'http://127.0.0.1:1/hook answered HTTP 410: no such hook after 1 attempt(s)',
        attempts: 1,
        headers: { [WEBHOOK_DLQ_HEADERS.status]: '410', [WEBHOOK_DLQ_HEADERS.body]: 'no such hook' },
      },
    ]);
    expect(idsOf(t.sent, 1)).toEqual(['flaky', 'flaky', 'flaky', 'flaky', 'after-flaky']);
  });

  it('408, 409 and 429 are retried, not rejected', async () => {
    const answers = [408, 409, 429, 200];
    const t = scripted((_id, n) => answers[n - 1]!);
    const { sink } = sinkWith(t.transport);
    expect((await sink.apply([ev(1, 'x')])).applied).toHaveLength(1);
    expect(t.sent).toHaveLength(4);
  });

  it('honours Retry-After', async () => {
    const t = scripted((_id, n) => (n === 1 ? { status: 429, retryAfter: '1' } : 200));
    const { sink } = sinkWith(t.transport);
    await sink.apply([ev(1, 'x')]);
    expect(t.sent[1]!.at - t.sent[0]!.at).toBeGreaterThanOrEqual(990);
  });

  it('onFailure: block never dead-letters, even a 410, and reports the error meanwhile', async () => {
    const t = scripted((id, n) => (id === 'x' && n <= 6 ? 410 : 200));
    const { sink } = sinkWith(t.transport, { onFailure: 'block', maxAttempts: 2 });
    const reported: string[] = [];
    const res = await sink.apply([ev(1, 'x'), ev(1, 'y')], {
      heartbeat: () => Promise.resolve(),
      isStale: () => false,
      reportError: (m) => reported.push(m),
    });
    expect(res.deadLetters).toEqual([]);
    expect(res.applied).toHaveLength(2);
    expect(idsOf(t.sent, 1)).toEqual(['x', 'x', 'x', 'x', 'x', 'x', 'x', 'y']);
    expect(reported[0]).toBe('target hooks: http://127.0.0.1:1/hook answered HTTP 410 (attempt 1); retrying');
  });

  it('the circuit opens on a receiver that keeps failing: few requests, nothing skipped', async () => {
    const downUntil = performance.now() + 400;
    const t = scripted(() => (performance.now() < downUntil ? 'refused' : 200));
    const { sink, metrics } = sinkWith(t.transport, {
      maxAttempts: 1000,
      circuitBreaker: { failureThreshold: 3, cooldown: 0.1 },
    });
    const events = Array.from({ length: 20 }, (_, i) => ev(i % 5, `e${i}`));
    const res = await sink.apply(events);
    expect(res.applied).toHaveLength(20);
    const failures = t.sent.length - 20;
    // without the breaker ~4 workers x (400 ms / ~3 ms per try) = hundreds of attempts
    expect(failures).toBeGreaterThanOrEqual(3);
    expect(failures).toBeLessThan(20);
    for (let u = 0; u < 5; u++) {
      const ok = idsOf(t.sent, u).filter((id, i, all) => all.indexOf(id) === i);
      expect(ok).toEqual(events.filter((e) => e.key.id === BigInt(u)).map((e) => e.event.event_id));
    }
    expect((await metrics.webhookCircuitOpen.get()).values[0]?.value).toBe(0);
  });

  it('batchSize > 1 sends arrays of whole users, in order, with a stable batch id', async () => {
    const t = scripted(() => 200);
    const { sink } = sinkWith(t.transport, { batchSize: 3, concurrency: 2 });
    const events = [ev(1, 'a1'), ev(2, 'b1'), ev(1, 'a2'), ev(3, 'c1'), ev(2, 'b2'), ev(4, 'd1')];
    const res = await sink.apply(events);
    expect(res.applied).toHaveLength(6);
    const bodies = t.sent.map((s) => (s.body as { id: string }[]).map((p) => p.id));
    expect(bodies.flat().sort()).toEqual(['a1', 'a2', 'b1', 'b2', 'c1', 'd1']);
    for (const b of bodies) {
      if (b.includes('a1') && b.includes('a2')) expect(b.indexOf('a1')).toBeLessThan(b.indexOf('a2'));
    }
    for (const s of t.sent) {
      const group = (s.body as { id: string }[]).map((p) => events.find((e) => e.event.event_id === p.id)!);
      expect(s.id).toBe(batchId(group));
    }
  });

  it('gives up with DeliveryAborted once the batch is stale, without dead letters', async () => {
    const t = scripted(() => 500);
    const { sink } = sinkWith(t.transport, { maxAttempts: 1000 });
    let stale = false;
    setTimeout(() => (stale = true), 50);
    await expect(
      sink.apply([ev(1, 'x'), ev(2, 'y')], { heartbeat: () => Promise.resolve(), isStale: () => stale }),
    ).rejects.toBeInstanceOf(DeliveryAborted);
  });
});

describe('WebhookSink lifecycle', () => {
  it('a closed sink never reopens', async () => {
    const t = scripted(() => 200);
    const { sink } = sinkWith(t.transport);
    await sink.open();
    await sink.close();
    await expect(sink.apply([ev(1, 'late')])).rejects.toThrow('target hooks: sink is closed');
    expect(t.sent).toEqual([]);
  });

  it('a redirect is final and not a circuit failure: one request, dead-lettered as rejected', async () => {
    const t = scripted((id) => (id === 'moved' ? 301 : 200));
    const { sink } = sinkWith(t.transport, { circuitBreaker: { failureThreshold: 1, cooldown: 60 } });
    const res = await sink.apply([ev(1, 'moved'), ev(2, 'fine')]);
    expect(t.sent.map((x) => x.id).sort()).toEqual(['fine', 'moved']);
    expect(res.deadLetters).toMatchObject([{ reason: 'webhook-rejected', attempts: 1 }]);
    expect(res.applied.map((e) => e.event.event_id)).toEqual(['fine']);
  });

  it('an event whose jsonb is not valid JSON is dead-lettered alone; the body of the others stays valid', async () => {
    const t = scripted(() => 200);
    const { sink } = sinkWith(t.transport, { batchSize: 10 });
    const good = ev(1, 'good');
    const broken = ev(1, 'broken');
    broken.event = {
      ...broken.event,
      op: 'c',
      after: { id: 1n, preferences: '{"a": 1} , "injected": true' },
    };
    good.event = { ...good.event, op: 'c', after: { id: 1n, preferences: '{"a": 1}' } };
    const res = await sink.apply([broken, good]);
    expect(res.deadLetters).toEqual([
      {
        offset: broken.offset,
        reason: 'invalid-value',
        error: 'event broken: after.preferences is not valid JSON; a jsonb value must be one JSON value',
      },
    ]);
    expect(res.applied).toEqual([good]);
    expect(t.sent).toHaveLength(1);
    expect((t.sent[0]!.body as { after: { preferences: unknown } }[])[0]!.after.preferences).toEqual({
      a: 1,
    });
  });

  it('a delete and its tombstone in the next chunk (same event id) are delivered once', async () => {
    const t = scripted(() => 200);
    const { sink } = sinkWith(t.transport);
    const del = ev(5, 'del-5'); // ev() builds deletes
    const first = await sink.apply([ev(6, 'del-6'), del]);
    expect(first.applied).toHaveLength(2);
    // the runner turns the tombstone that opens the next chunk into the same delete
    const tombstone = { ...del, offset: del.offset + 1000n };
    const later = ev(5, 'del-5-later');
    const next = await sink.apply([tombstone, later]);
    expect(next.applied).toEqual([tombstone, later]);
    expect(t.sent.map((x) => x.id).sort()).toEqual(['del-5', 'del-5-later', 'del-6']);
  });
  it("chunks of several partitions at once share the target's `concurrency` requests in flight", async () => {
    const t = scripted(() => 200, 3);
    const { sink } = sinkWith(t.transport, { concurrency: 3 });
    // three partitions' chunks of 6 users each, handed over at the same time (consumer lanes)
    const chunks = [0, 1, 2].map((p) => Array.from({ length: 6 }, (_, i) => ev(p * 10 + i, `p${p}-${i}`)));
    const results = await Promise.all(chunks.map((c) => sink.apply(c)));
    expect(results.map((r) => r.applied.length)).toEqual([6, 6, 6]);
    expect(t.sent).toHaveLength(18);
    expect(t.maxInFlight()).toBe(3);
  });
});
