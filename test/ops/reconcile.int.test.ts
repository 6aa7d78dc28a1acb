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
import { keyedDriftAndRepair } from '../support/reconcile.ts';
import {
  dropPipelineEnv,
  pipelineEnv,
  query,
  runProducer,
  startTestConsumer,
  testApp,
  waitForPeerEqual,
  type Stops,
} from '../support/pipeline.ts';

const stops: Stops = [];
let cleanup: (() => Promise<void>) | undefined;
afterAll(async () => cleanup?.());

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

    // an owned row whose source delete never reaches the target (as if past the topic's retention),
    // a row changed at the source while its events wait in Kafka, drift made by hand at the target
    const writer = await keyedDriftAndRepair(app, env, deps, {
      consumer,
      writer: {
        insert: "INSERT INTO users (email, username) VALUES ($1, 'w'), ($2, 'w')",
        set: "city = 'c' || $1::text",
      },
      sourceEdit: "UPDATE users SET city = 'Oslo' WHERE id = 4",
      target: {
        exec: (sql) => query(env.peer.url, sql),
        bookkeepingNullable:
          'ALTER TABLE users ALTER COLUMN _pgcdc_lsn DROP NOT NULL, ALTER COLUMN _pgcdc_seq DROP NOT NULL, ALTER COLUMN _pgcdc_event_id DROP NOT NULL',
        bool: ['true', 'false'],
        now: 'now()',
      },
      stops,
    });
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
