// TRUNCATE of the captured table, end to end (issue 14 item 17). It was dropped (then only logged):
// targets silently kept rows the source no longer had. Now it is one event on the change topic
// (under its table's own key, schemas/truncate.ts) and each target applies or ignores it: a
// Postgres target removes the rows older than it and keeps older events out, also when they
// arrive after it from another partition (or again); a webhook receives `truncated` once.
import { describe, expect, it } from 'vitest';
import { PostgresSink } from '../../consumers/postgres/sink.ts';
import { PostgresTargetSchema } from '../../pipeline/config/schema.ts';
import { createLogger } from '../../pipeline/observability/logger.ts';
import { loadContract } from '../../schemas/contract.ts';
import { positionedChanges } from '../unit/support/events.ts';
import { freshDatabase, stackUrls, waitUntil, type FreshDatabase } from '../support/index.ts';
import { query, readTopic } from '../support/pipeline.ts';
import {
  closeAfterEach,
  startReceiver,
  targetPipeline,
  webhookPipeline,
  type WebhookPipeline,
} from '../support/webhook.ts';

closeAfterEach();
const urls = stackUrls();

const onPeer = async (db: FreshDatabase, text: string) =>
  (await query<{ v: string }>(db.url, text)).map((r) => r.v);

const peerIds = (db: FreshDatabase) => onPeer(db, 'SELECT id::text AS v FROM users ORDER BY id');

/** Every message of the change topic. */
const topicMessages = (p: WebhookPipeline) => readTopic(p.app.kafka, p.topic);

async function postgresPipeline(name: string, target: Record<string, unknown> = {}) {
  const peer = await freshDatabase(urls.adminUrl, `${name}_peer`);
  const p = await targetPipeline(urls, name, { name: 'hooks', type: 'postgres', url: peer.url, ...target });
  return { p, peer };
}

describe('TRUNCATE at the source', () => {
  it('empties a postgres target once; later rows land, older events redelivered after it stay out', async () => {
    const { p, peer } = await postgresPipeline('truncate_pg');
    try {
      const consumer = await p.startConsumer();
      await p.sql("INSERT INTO users (id, email, username) VALUES (1, 'a@x.io', 'a'), (2, 'b@x.io', 'b')");
      await p.sql("INSERT INTO users (id, email, username) VALUES (3, 'c@x.io', 'c')");
      await waitUntil(async () => (await peerIds(peer)).length === 3, {
        what: 'three rows at the peer',
        timeoutMs: 60_000,
      });
      const inserts = await topicMessages(p); // the three creates, to redeliver after the truncate

      await p.sql('TRUNCATE users');
      await waitUntil(async () => (await peerIds(peer)).length === 0, {
        what: 'the peer emptied by the truncate',
        timeoutMs: 60_000,
      });
      const truncates = (await topicMessages(p)).filter((m) => m.headers['pgcdc-truncate'] === '1');
      expect(truncates).toHaveLength(1); // published once, to one partition
      expect(truncates[0]!.key?.toString()).toBe('pgcdc-truncate:public.users');
      expect(await onPeer(peer, 'SELECT count(*)::text AS v FROM users_pgcdc_truncated')).toEqual(['1']);

      // a row inserted after the truncate lands
      await p.sql("INSERT INTO users (id, email, username) VALUES (2, 'new@x.io', 'new')");
      await waitUntil(async () => (await peerIds(peer)).join() === '2', {
        what: 'the insert after the truncate at the peer',
        timeoutMs: 60_000,
      });

      // the creates from before the truncate arrive again (a partition lagging behind the
      // truncate's partition, a replay): none of them brings its row back, none is dead-lettered
      const before = consumer.status().applied;
      const producer = p.app.kafka.producer();
      await producer.connect();
      try {
        await producer.send(
          p.topic,
          inserts.map((m) => ({ key: m.key!, value: m.value, headers: m.headers })),
        );
      } finally {
        await producer.disconnect();
      }
      await waitUntil(() => consumer.status().applied === before + inserts.length, {
        what: 'the redelivered creates to be consumed',
        timeoutMs: 60_000,
      });
      expect(inserts).toHaveLength(3);
      expect(consumer.status().deadLettered).toBe(0);
      expect(await peerIds(peer)).toEqual(['2']);
      expect(await onPeer(peer, 'SELECT email AS v FROM users')).toEqual(['new@x.io']);
    } finally {
      await p.close();
      await peer.drop();
    }
  }, 240_000);

  it('onTruncate: ignore keeps the rows of a postgres target (the truncate is consumed, not applied)', async () => {
    const { p, peer } = await postgresPipeline('truncate_ign', { onTruncate: 'ignore' });
    try {
      const consumer = await p.startConsumer();
      await p.sql("INSERT INTO users (id, email, username) VALUES (1, 'a@x.io', 'a'), (2, 'b@x.io', 'b')");
      await p.sql('TRUNCATE users');
      await p.sql("INSERT INTO users (id, email, username) VALUES (3, 'c@x.io', 'c')");
      await waitUntil(() => consumer.status().applied === 4, {
        what: 'two creates, the truncate and a create consumed',
        timeoutMs: 60_000,
      });
      expect(await peerIds(peer)).toEqual(['1', '2', '3']);
      expect(await onPeer(peer, 'SELECT count(*)::text AS v FROM users_pgcdc_truncated')).toEqual(['0']);
    } finally {
      await p.close();
      await peer.drop();
    }
  }, 240_000);

  it('a webhook receives one `truncated` event of the table', async () => {
    const receiver = await startReceiver();
    const p = await webhookPipeline(urls, 'truncate_hook', receiver.url);
    const consumer = await p.startConsumer();
    await p.sql("INSERT INTO users (id, email, username) VALUES (1, 'a@x.io', 'a')");
    await p.sql('TRUNCATE users');
    await p.sql("INSERT INTO users (id, email, username) VALUES (2, 'b@x.io', 'b')");
    await waitUntil(() => consumer.status().applied === 3, {
      what: 'three events delivered',
      timeoutMs: 60_000,
    });
    const truncated = receiver.received.filter((r) => r.body.type === 'truncated');
    expect(truncated).toHaveLength(1);
    expect(truncated[0]!.body).toMatchObject({
      version: 1,
      op: 't',
      table: 'public.users',
      key: null,
      before: null,
      after: null,
    });
    expect(receiver.received.map((r) => r.body.type).sort()).toEqual(['created', 'created', 'truncated']);
  }, 240_000);

  it('at the sink: commutes with row events on the set-based and the per-event path', async () => {
    const change = positionedChanges();
    const peer = await freshDatabase(urls.adminUrl, 'truncate_sink');
    const target = PostgresTargetSchema.parse({ name: 'peer', type: 'postgres', url: peer.url });
    const sink = new PostgresSink(target, loadContract(), createLogger({ level: 'warn' }));
    try {
      await sink.open();
      await sink.apply([change('c', 1n, 10n, {}), change('c', 2n, 11n, {}), change('d', 3n, 12n)]);
      // set-based: the truncate in the middle of a batch; before it stays out, after it lands
      const fast = await sink.apply([
        change('c', 4n, 19n, {}),
        change('t', 0n, 20n),
        change('c', 5n, 21n, {}),
        change('u', 1n, 15n, { city: 'old' }, ['bio']), // partial, older: superseded, not missing
      ]);
      expect(fast.deadLetters).toEqual([]);
      expect(await peerIds(peer)).toEqual(['5']);
      expect(await onPeer(peer, 'SELECT count(*)::text AS v FROM users_pgcdc_deleted')).toEqual(['0']);
      // an older truncate arriving late moves nothing back and removes nothing newer
      await sink.apply([change('t', 0n, 18n)]);
      expect(await onPeer(peer, 'SELECT _pgcdc_lsn::text AS v FROM users_pgcdc_truncated')).toEqual(['20']);
      expect(await peerIds(peer)).toEqual(['5']);
      // per-event path (a rejected row in the batch): the same
      await query(
        peer.url,
        "ALTER TABLE users ADD CONSTRAINT no_nowhere CHECK (city IS DISTINCT FROM 'Nowhere')",
      );
      const careful = await sink.apply([
        change('c', 6n, 30n, {}),
        change('c', 7n, 34n, { city: 'Nowhere' }), // rejected by the target: the per-event path
        change('t', 0n, 32n),
        change('c', 8n, 25n, {}), // older than the truncate, arriving after it
        change('u', 6n, 29n, { city: 'old' }, ['bio']), // partial, older: superseded, not missing
        change('c', 9n, 33n, {}),
      ]);
      expect(careful.deadLetters.map((d) => d.reason)).toEqual(['rejected']);
      expect(await peerIds(peer)).toEqual(['9']);
    } finally {
      await sink.close();
      await peer.drop();
    }
  });
});
