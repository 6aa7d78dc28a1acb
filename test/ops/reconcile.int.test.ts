// `pgcdc reconcile` on the real stack, under concurrent writes: drift injected at the target (a row
// deleted, a column edited, a foreign row, an owned row whose source delete the consumer never saw)
// is reported exactly, and nothing else: neither the writer's rows in flight nor a row changed at the
// source while the consumer was stopped (its events waiting in Kafka). --repair then makes the
// target equal the source by an independent comparison (dev/verify), the foreign row kept.
import { afterAll, describe, expect, it } from 'vitest';
import { reconcile } from '../../ops/reconcile/index.ts';
import { compareTables } from '../../dev/verify/compare.ts';
import { loadContract } from '../../schemas/contract.ts';
import { stackUrls, waitUntil } from '../support/index.ts';
import { reconcileWhileReturning, skipPastRetention } from '../support/reconcile.ts';
import {
  dropPipelineEnv,
  pipelineEnv,
  query,
  runProducer,
  startTestConsumer,
  testApp,
  waitForPeerEqual,
  writerLoop,
  type Stops,
} from '../support/pipeline.ts';

const stops: Stops = [];
let cleanup: (() => Promise<void>) | undefined;
afterAll(async () => cleanup?.());

/** Writes only rows of its own (email w...), so the injected rows keep their drift. */
function ownRowsWriter(url: string) {
  let n = 0;
  return writerLoop({ connectionString: url }, { txns: 0 }, async (c) => {
    n++;
    await c.query('BEGIN');
    await c.query("INSERT INTO users (email, username) VALUES ($1, 'w'), ($2, 'w')", [
      `w${n}a@x.io`,
      `w${n}b@x.io`,
    ]);
    await c.query(
      "UPDATE users SET city = 'c' || $1::text WHERE id IN (SELECT id FROM users WHERE email LIKE 'w%' ORDER BY random() LIMIT 2)",
      [n],
    );
    await c.query(
      "DELETE FROM users WHERE id IN (SELECT id FROM users WHERE email LIKE 'w%' ORDER BY random() LIMIT 1)",
    );
    await c.query('COMMIT');
  });
}

describe('pgcdc reconcile', () => {
  it('reports exactly the injected drift under writes, and --repair brings the target back', async () => {
    const env = await pipelineEnv(stackUrls(), 'reconcile');
    const app = testApp(env.config);
    cleanup = () => dropPipelineEnv(env, app.kafka, stops);
    const deps = { config: env.config, pg: app.pg, kafka: app.kafka, logger: app.logger };
    await query(
      env.source.url,
      "INSERT INTO users (id, email, username, city) SELECT g, 'u' || g || '@x.io', 'u' || g, 'Rome' FROM generate_series(1, 300) g",
    );
    await query(env.source.url, "SELECT setval(pg_get_serial_sequence('users', 'id'), 1000)");
    runProducer(app, stops);
    const consumer = await startTestConsumer(app, 'peer');
    await waitForPeerEqual(env, 120_000);

    // an owned row whose source delete never reaches the target (as if past the topic's retention)
    await skipPastRetention(app, env, {
      consumers: [consumer],
      change: () => query(env.source.url, 'DELETE FROM users WHERE id = 3'),
    });
    const writer = ownRowsWriter(env.source.url);
    stops.push(() => writer.stop());
    // a row changed at the source while its events wait in Kafka (the consumer is stopped)
    await query(env.source.url, "UPDATE users SET city = 'Oslo' WHERE id = 4");
    // drift made by hand at the target
    await query(env.peer.url, 'DELETE FROM users WHERE id = 1');
    await query(env.peer.url, "UPDATE users SET city = 'Nowhere' WHERE id = 2");
    await query(
      env.peer.url,
      'ALTER TABLE users ALTER COLUMN _pgcdc_lsn DROP NOT NULL, ALTER COLUMN _pgcdc_seq DROP NOT NULL, ALTER COLUMN _pgcdc_event_id DROP NOT NULL',
    );
    await query(
      env.peer.url,
      "INSERT INTO users (id, email, username, is_active, is_blocked, created_at, updated_at) VALUES (100000, 'foreign@x.io', 'foreign', true, false, now(), now())",
    );

    // the consumer comes back only once the pass has begun: its backlog is lag, not drift
    const { report, consumer: back } = await reconcileWhileReturning(app, deps, 'peer', { chunkSize: 50 });
    stops.push(() => back.stop());
    const t = report.tables[0]!;
    expect(t.samples.missing).toEqual(['1']);
    expect(t.samples.differing).toEqual([{ key: '2', columns: ['city'] }]);
    expect(t.samples.extra.sort((a, b) => a.key.localeCompare(b.key))).toEqual([
      { key: '100000', owned: false },
      { key: '3', owned: true },
    ]);
    expect({ missing: t.missing, differing: t.differing, extra: t.extra, unsettled: t.unsettled }).toEqual({
      missing: 1,
      differing: 1,
      extra: { owned: 1, foreign: 1 },
      unsettled: 0,
    });
    expect(report.drift).toBe(true);

    const repaired = await reconcile(deps, 'peer', { chunkSize: 50, repair: true });
    expect(repaired.tables[0]!.repaired).toMatchObject({ fed: 2, removed: 1 });
    await writer.stop();
    const equal = await waitUntil(
      async () => {
        const c = await compareTables(
          { url: env.source.url, schema: 'public', table: 'users' },
          { url: env.peer.url, schema: 'public', table: 'users' },
          loadContract().columns,
        );
        return c.missing.length === 0 && c.different.length === 0 && c.extra.join() === '100000' && c;
      },
      { what: 'the peer to equal the source but the foreign row', timeoutMs: 120_000 },
    );
    expect(equal.extra).toEqual(['100000']);
    const after = await reconcile(deps, 'peer', { chunkSize: 50 });
    expect(after.tables[0]!.extra).toEqual({ owned: 0, foreign: 1 });
    expect(after.drift).toBe(false);
  }, 600_000);
});
