// A receiver that answers 500 three times, then 200: the event is delivered, every attempt carries
// the same webhook-id (the event id) and a valid Standard Webhooks signature, and the offset is
// committed only after the success. The payload is checked end to end (insert, update, delete).
import { describe, expect, it } from 'vitest';
import { verifyWebhook } from '../../consumers/webhook/verify.ts';
import { stackUrls, waitUntil } from '../support/index.ts';
import {
  closeAfterEach,
  SECRET,
  delivered,
  insertUser,
  startReceiver,
  webhookPipeline,
} from '../support/webhook.ts';

closeAfterEach();

describe('webhook retries', () => {
  it('500 x3 then 200: delivered once accepted, same webhook-id, signatures verify, offsets committed', async () => {
    let firstId: string | undefined;
    const receiver = await startReceiver((req, nth) => {
      firstId ??= req.id;
      return req.id === firstId && nth <= 3 ? { status: 500, body: 'boom' } : { status: 200 };
    });
    const p = await webhookPipeline(stackUrls(), 'wh_retry', receiver.url);
    await p.startConsumer();
    const id = await insertUser(p, 'retry');
    await p.sql(
      "UPDATE users SET city = 'Oslo', updated_at = '2024-02-29 07:04:56.789012+00' WHERE id = $1",
      [id],
    );
    await p.sql('DELETE FROM users WHERE id = $1', [id]);

    await waitUntil(() => delivered(receiver).length === 3, { what: 'three deliveries', timeoutMs: 60_000 });
    const r = receiver.received;
    // The insert: four attempts with one id; the update and the delete wait for it (same user).
    expect(r.map((x) => x.id)).toEqual([firstId, firstId, firstId, firstId, r[4]!.id, r[5]!.id]);
    expect(r.map((x) => x.answer)).toEqual([500, 500, 500, 200, 200, 200]);
    expect(r.map((x) => x.body.type)).toEqual([
      'created',
      'created',
      'created',
      'created',
      'updated',
      'deleted',
    ]);
    expect(r.slice(0, 4).map((x) => x.body.delivery.attempt)).toEqual([1, 2, 3, 4]);
    expect(new Set(r.map((x) => x.id)).size).toBe(3);
    for (const x of r) {
      expect(x.id).toBe(x.body.id);
      expect(verifyWebhook({ secret: SECRET, headers: x.headers, body: x.rawBody })).toMatchObject({
        ok: true,
        id: x.id,
      });
      expect(
        verifyWebhook({
          secret: 'whsec_' + Buffer.from('another key').toString('base64'),
          headers: x.headers,
          body: x.rawBody,
        }).ok,
      ).toBe(false);
    }

    const [ins, upd, del] = delivered(receiver);
    expect(ins!.body).toMatchObject({ version: 1, op: 'c', key: { id }, before: null, unchanged: [] });
    expect(ins!.body.after).toMatchObject({ id, username: 'retry', tags: ['a', null], balance: '10.50' });
    // jsonb arrives as JSON, every digit kept
    expect(ins!.rawBody).toContain('"preferences":{"n": 12345678901234567890}');
    expect(upd!.body.after).toMatchObject({ city: 'Oslo', updated_at: '2024-02-29T07:04:56.789012Z' });
    expect(del!.body).toMatchObject({ op: 'd', key: { id }, after: null });
    expect(ins!.body.source.commit_time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    expect(ins!.body.source.transaction_id).toMatch(/^\d+$/);

    expect(await p.metric('webhookResponses', { code: '500' })).toBe(3);
    expect(await p.metric('webhookResponses', { code: '200' })).toBe(3);
    expect(await p.metric('webhookRetries')).toBe(3);
    expect(p.consumer!.status()).toMatchObject({ state: 'OK', applied: 3, deadLettered: 0 });

    // Offsets: committed up to the end of the topic once everything was delivered.
    const admin = p.app.kafka.admin();
    await admin.connect();
    try {
      const committed = await waitUntil(
        async () => {
          const ends = await admin.topicOffsets(p.topic);
          const groups = await admin.groupOffsets(p.group, p.topic);
          const done = ends.every(
            (e) => e.high === 0n || groups.find((g) => g.partition === e.partition)?.offset === e.high,
          );
          return done && groups;
        },
        { what: 'offsets committed to the end', timeoutMs: 10_000 },
      );
      expect(committed.length).toBe(3);
    } finally {
      await admin.disconnect();
    }
  });
});
