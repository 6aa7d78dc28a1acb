// A deleted row stays deleted at a Postgres target: an older upsert of its key delivered after the
// delete (a partial replay, a dead letter redriven, the same bytes produced again) must not bring
// it back, while a newer insert of the same key after the delete still lands.
import { describe, expect, it } from 'vitest';
import pg from 'pg';
import { createEventCodec } from '../../schemas/codec.ts';
import { loadContract } from '../../schemas/contract.ts';
import { freshDatabase, stackUrls, waitUntil } from '../support/index.ts';
import { closeAfterEach, targetPipeline, type WebhookPipeline } from '../support/webhook.ts';

closeAfterEach();

async function onPeer<T extends pg.QueryResultRow>(url: string, text: string): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(text)).rows;
  } finally {
    await c.end();
  }
}

/** The topic's messages for one user id, oldest first, with their decoded op. */
async function messagesOf(p: WebhookPipeline, id: string) {
  const codec = await createEventCodec({
    registryUrl: p.config.registry.url,
    topic: p.topic,
    contract: loadContract(),
  });
  const admin = p.app.kafka.admin();
  await admin.connect();
  const ends = await admin.topicOffsets(p.topic).finally(() => admin.disconnect());
  const messages = await p.app.kafka.reader().read(
    p.topic,
    ends.map((e) => ({ partition: e.partition, from: e.low, to: e.high })),
    { timeoutMs: 30_000 },
  );
  const out = [];
  for (const m of messages) {
    if (!m.key || !m.value) continue;
    const key = await codec.decodeKey(m.key);
    if (String(key.id) !== id) continue;
    out.push({ message: m, op: (await codec.decodeValue(m.value)).op });
  }
  return out;
}

describe('deletes at a postgres target', () => {
  it('an older upsert delivered after the delete does not resurrect the row; a newer insert lands', async () => {
    const urls = stackUrls();
    const peerDb = await freshDatabase(urls.adminUrl, 'deleted_peer');
    const p = await targetPipeline(urls, 'deleted', { name: 'hooks', type: 'postgres', url: peerDb.url });
    try {
      const consumer = await p.startConsumer();
      const r = await p.sql(
        "INSERT INTO users (email, username) VALUES ('gone@x.io', 'gone') RETURNING id::text AS id",
      );
      const id = (r.rows[0] as { id: string }).id;
      await p.sql(`UPDATE users SET city = 'Paris' WHERE id = ${id}`);
      await p.sql(`DELETE FROM users WHERE id = ${id}`);
      await waitUntil(() => consumer.status().applied === 3, {
        what: 'three events applied',
        timeoutMs: 60_000,
      });
      expect(await onPeer(peerDb.url, `SELECT id FROM users WHERE id = ${id}`)).toEqual([]);

      // The insert and the update arrive again, after the delete (as a replay of part of the topic would).
      const old = (await messagesOf(p, id)).filter((m) => m.op !== 'd');
      expect(old.map((m) => m.op)).toEqual(['c', 'u']);
      const producer = p.app.kafka.producer();
      await producer.connect();
      try {
        await producer.send(
          p.topic,
          old.map(({ message }) => ({ key: message.key!, value: message.value, headers: message.headers })),
        );
      } finally {
        await producer.disconnect();
      }
      await waitUntil(() => consumer.status().applied === 5, {
        what: 'the two old events to be consumed',
        timeoutMs: 60_000,
      });
      expect(await onPeer(peerDb.url, `SELECT id FROM users WHERE id = ${id}`)).toEqual([]);
      expect(consumer.status().deadLettered).toBe(0);

      // The marker of the delete is in its table.
      const markers = await onPeer<{ id: string }>(
        peerDb.url,
        'SELECT id::text AS id FROM users_pgcdc_deleted',
      );
      expect(markers).toEqual([{ id }]);

      // A newer insert of the same key lands.
      await p.sql(`INSERT INTO users (id, email, username) VALUES (${id}, 'back@x.io', 'back')`);
      await waitUntil(
        async () => (await onPeer(peerDb.url, `SELECT id FROM users WHERE id = ${id}`)).length === 1,
        { what: 'the re-inserted row at the peer', timeoutMs: 60_000 },
      );
      const [row] = await onPeer<{ email: string }>(peerDb.url, `SELECT email FROM users WHERE id = ${id}`);
      expect(row?.email).toBe('back@x.io');
    } finally {
      await p.close();
      await peerDb.drop();
    }
  }, 180_000);
});
