// A deleted row stays deleted at a Postgres target: an older upsert of its key delivered after the
// delete (a partial replay, a dead letter redriven, the same bytes produced again) must not bring
// it back, while a newer insert of the same key after the delete still lands.
import { describe, expect, it } from 'vitest';
import { PostgresSink } from '../../consumers/postgres/sink.ts';
import { PostgresTargetSchema } from '../../pipeline/config/schema.ts';
import { createLogger } from '../../pipeline/observability/logger.ts';
import { createEventCodec } from '../../schemas/codec.ts';
import { loadContract } from '../../schemas/contract.ts';
import { positionedChanges } from '../unit/support/events.ts';
import { freshDatabase, stackUrls, waitUntil } from '../support/index.ts';
import { query as onPeer } from '../support/pipeline.ts';
import { closeAfterEach, targetPipeline, type WebhookPipeline } from '../support/webhook.ts';

closeAfterEach();

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

describe('delete markers on the per-event path of the postgres sink', () => {
  const contract = loadContract();
  const change = positionedChanges();

  it('keeps an older full or partial update of a deleted key out without dead-lettering it', async () => {
    const urls = stackUrls();
    const peer = await freshDatabase(urls.adminUrl, 'marker_peer');
    const target = PostgresTargetSchema.parse({ name: 'peer', type: 'postgres', url: peer.url });
    const sink = new PostgresSink(target, contract, createLogger({ level: 'warn' }));
    try {
      await sink.open();
      await onPeer(
        peer.url,
        "ALTER TABLE users ADD CONSTRAINT no_nowhere CHECK (city IS DISTINCT FROM 'Nowhere')",
      );
      const first = await sink.apply([change('c', 1n, 10n, {}), change('c', 2n, 11n, {})]);
      expect(first.deadLetters).toEqual([]);
      expect(first.applied).toHaveLength(2);
      // A rejected row in the batch sends it down the per-event path (savepoints, one statement each).
      const rejected = change('c', 3n, 12n, { city: 'Nowhere' });
      const batch = [
        change('d', 1n, 20n),
        change('u', 1n, 15n, { city: 'old' }), // older than the delete: stays out
        change('u', 1n, 16n, { city: 'older' }, ['bio']), // partial and older: superseded, not missing
        rejected,
        change('u', 4n, 17n, { city: 'x' }, ['bio']), // partial, row never existed: missing
      ];
      const missing = batch.at(-1)!;
      const res = await sink.apply(batch);
      expect(res.deadLetters.map((d) => [d.offset, d.reason])).toEqual([
        [rejected.offset, 'rejected'],
        [missing.offset, 'missing-row'],
      ]);
      expect(await onPeer(peer.url, 'SELECT id::text AS id FROM users ORDER BY id')).toEqual([{ id: '2' }]);
      // The same through the set-based path (no rejected row): still nothing brings key 1 back.
      const again = await sink.apply([change('c', 1n, 19n, {}), change('u', 1n, 18n, {}, ['bio'])]);
      expect([again.applied.length, again.deadLetters.length]).toEqual([2, 0]);
      expect(await onPeer(peer.url, 'SELECT id::text AS id FROM users ORDER BY id')).toEqual([{ id: '2' }]);
      // A later insert of the key lands, and its marker is redundant from then on (pruned at open).
      await sink.apply([change('c', 1n, 30n, {})]);
      expect(await onPeer(peer.url, 'SELECT id::text AS id FROM users ORDER BY id')).toEqual([
        { id: '1' },
        { id: '2' },
      ]);
      await sink.close();
      const reopened = new PostgresSink(target, contract, createLogger({ level: 'warn' }));
      await reopened.open();
      await reopened.close();
      expect(await onPeer(peer.url, 'SELECT count(*)::int AS n FROM users_pgcdc_deleted')).toEqual([
        { n: 0 },
      ]);
    } finally {
      await sink.close();
      await peer.drop();
    }
  });
});
