// The postgres sink's set-based path sends a batch as ONE statement outside a transaction block
// (consumers/postgres/batch-sql.ts), a named prepared statement of its connection: its upserts,
// partial updates and deletes land together (one transaction) with every guard; a partial update
// of a missing row still dead-letters that event alone; a unique value handed from one key to
// another inside the batch still converges; its lock waits stay bounded (100 ms, then the event by
// event path); and a prepared statement keeps working after the target table changes.
import { describe, expect, it } from 'vitest';
import { PostgresSink } from '../../consumers/postgres/sink.ts';
import { PostgresTargetSchema } from '../../pipeline/config/schema.ts';
import { createLogger } from '../../pipeline/observability/logger.ts';
import { loadContract } from '../../schemas/contract.ts';
import { positionedChanges } from '../unit/support/events.ts';
import { freshDatabase, stackUrls, withClient } from '../support/index.ts';
import { query as onPeer } from '../support/pipeline.ts';

const contract = loadContract();

async function withSink(fn: (sink: PostgresSink, url: string) => Promise<void>) {
  const urls = stackUrls();
  const peer = await freshDatabase(urls.adminUrl, 'batch_stmt_peer');
  const target = PostgresTargetSchema.parse({ name: 'peer', type: 'postgres', url: peer.url });
  const sink = new PostgresSink(target, contract, createLogger({ level: 'warn' }));
  try {
    await sink.open();
    await fn(sink, peer.url);
  } finally {
    await sink.close();
    await peer.drop();
  }
}

const rows = (url: string) =>
  onPeer<{ id: string; email: string; city: string | null; bio: string | null }>(
    url,
    'SELECT id::text AS id, email, city, bio FROM users ORDER BY id',
  );

describe('a batch as one statement at a postgres target', () => {
  it('upserts, partial updates of two column sets and deletes land together, in one transaction', async () => {
    await withSink(async (sink, url) => {
      const change = positionedChanges();
      const seed = [1n, 2n, 3n, 4n].map((id, i) =>
        change('c', id, 10n + BigInt(i), { bio: `bio${id}`, city: 'old', preferences: '{"a":1}' }),
      );
      expect((await sink.apply(seed)).applied).toHaveLength(4);
      const batch = [
        change('u', 1n, 20n, { city: 'c1' }, ['bio']),
        change('u', 2n, 21n, { city: 'c2' }, ['bio', 'preferences']),
        change('d', 3n, 22n),
        change('c', 5n, 23n, { city: 'c5' }),
        change('u', 4n, 9n, { city: 'older' }, ['bio']), // older than the row (its key's only event): guarded out
      ];
      const res = await sink.apply(batch);
      expect([res.applied.length, res.deadLetters.length, res.retryFrom]).toEqual([5, 0, undefined]);
      expect(await rows(url)).toEqual([
        { id: '1', email: 'u1@x.io', city: 'c1', bio: 'bio1' },
        { id: '2', email: 'u2@x.io', city: 'c2', bio: 'bio2' },
        { id: '4', email: 'u4@x.io', city: 'old', bio: 'bio4' },
        { id: '5', email: 'u5@x.io', city: 'c5', bio: null },
      ]);
      const written = await onPeer<{ n: number }>(
        url,
        "SELECT count(DISTINCT xmin::text)::int AS n FROM users WHERE city LIKE 'c_'",
      );
      expect(written).toEqual([{ n: 1 }]);
      expect(await onPeer(url, 'SELECT id::text AS id FROM users_pgcdc_deleted')).toEqual([{ id: '3' }]);
    });
  });

  it('a partial update of a missing row is dead-lettered alone; the rest of the batch lands', async () => {
    await withSink(async (sink, url) => {
      const change = positionedChanges();
      await sink.apply([change('c', 1n, 10n, { bio: 'b' }), change('c', 2n, 11n, {})]);
      const missing = change('u', 9n, 22n, { city: 'nowhere' }, ['bio']);
      const res = await sink.apply([
        change('u', 1n, 20n, { city: 'c1' }, ['bio']),
        change('d', 2n, 21n),
        missing,
        change('c', 3n, 23n, { city: 'c3' }),
      ]);
      expect(res.deadLetters.map((d) => [d.offset, d.reason])).toEqual([[missing.offset, 'missing-row']]);
      expect(res.applied).toHaveLength(3);
      expect(await rows(url)).toEqual([
        { id: '1', email: 'u1@x.io', city: 'c1', bio: 'b' },
        { id: '3', email: 'u3@x.io', city: 'c3', bio: null },
      ]);
    });
  });

  it('a unique value handed from a deleted key to another key in the batch converges', async () => {
    await withSink(async (sink, url) => {
      await onPeer(url, 'ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email)');
      const change = positionedChanges();
      await sink.apply([change('c', 1n, 10n, { email: 'x@x.io' }), change('c', 2n, 11n, {})]);
      const res = await sink.apply([change('d', 1n, 20n), change('u', 2n, 21n, { email: 'x@x.io' })]);
      expect([res.applied.length, res.deadLetters.length, res.retryFrom]).toEqual([2, 0, undefined]);
      expect((await rows(url)).map((r) => [r.id, r.email])).toEqual([['2', 'x@x.io']]);
    });
  });

  it('a lock held at the target: the batch waits at most about 100 ms per try, then asks to wait', async () => {
    await withSink(async (sink, url) => {
      const change = positionedChanges();
      await sink.apply([change('c', 1n, 10n, {})]);
      await withClient(url, async (holder) => {
        await holder.query('BEGIN');
        await holder.query('SELECT 1 FROM users WHERE id = 1 FOR UPDATE');
        const started = performance.now();
        const res = await sink.apply([change('u', 1n, 20n, { city: 'c1' }), change('c', 2n, 21n, {})]);
        const tookMs = performance.now() - started;
        await holder.query('ROLLBACK');
        expect(res.retryFrom?.reason).toBe('lock-wait');
        expect(tookMs).toBeLessThan(2_000); // the target role's lock_timeout is 5 s
      });
      const res = await sink.apply([change('u', 1n, 20n, { city: 'c1' }), change('c', 2n, 21n, {})]);
      expect(res.applied).toHaveLength(2);
      expect((await rows(url)).map((r) => [r.id, r.city])).toEqual([
        ['1', 'c1'],
        ['2', null],
      ]);
    });
  });

  it('its prepared statements keep working after the target table changes', async () => {
    await withSink(async (sink, url) => {
      const change = positionedChanges();
      await sink.apply([change('c', 1n, 10n, {}), change('d', 7n, 11n)]);
      await onPeer(url, 'ALTER TABLE users ADD COLUMN extra text DEFAULT $$x$$');
      await onPeer(url, 'ALTER TABLE users ALTER COLUMN city TYPE varchar(100)');
      const res = await sink.apply([change('u', 1n, 20n, { city: 'c1' }), change('d', 8n, 21n)]);
      expect(res.applied).toHaveLength(2);
      expect((await rows(url)).map((r) => [r.id, r.city])).toEqual([['1', 'c1']]);
    });
  });
});
