// `pgcdc reconcile` against a MariaDB target on the real stack, under concurrent writes: every
// contract type read back through MariaDB's own forms (DECIMAL scale, TINYINT booleans, DATETIME(6)
// in UTC, JSON and arrays) compares equal, by range hashes computed at MariaDB (a clean target:
// no chunk read row by row) and row by row, so only the injected drift is reported: a row deleted
// and a column edited at the target, a foreign row, an owned row whose source delete the consumer
// never saw (its offset skipped, as past retention), and not a row changed at the source while the
// consumer was stopped. --repair then makes the target equal the source by the independent
// comparison of dev/verify/mysql-compare.ts, the foreign row kept.
import { afterAll, describe, expect, it } from 'vitest';
import { reconcile } from '../../ops/reconcile/index.ts';
import { stackUrls, waitUntil } from '../support/index.ts';
import { keyedDriftAndRepair } from '../support/reconcile.ts';
import {
  dropPipelineEnv,
  query,
  runProducer,
  startTestConsumer,
  testApp,
  type Stops,
} from '../support/pipeline.ts';
import { compareWithMysql, mysqlPipelineEnv, mysqlRows, waitForMysqlEqual } from '../mysql/support.ts';

const stops: Stops = [];
let cleanup: (() => Promise<void>) | undefined;
afterAll(async () => cleanup?.());

describe('pgcdc reconcile (MariaDB target)', () => {
  it('reports exactly the injected drift under writes, and --repair brings the target back', async () => {
    const env = await mysqlPipelineEnv(stackUrls(), 'rec_my');
    const app = testApp(env.config);
    cleanup = () => dropPipelineEnv(env, app.kafka, stops);
    const deps = { config: env.config, pg: app.pg, kafka: app.kafka, logger: app.logger };
    await query(
      env.source.url,
      `INSERT INTO users (id, email, username, city, is_active, balance, tags, preferences, created_at, last_login_at)
       SELECT g, 'u' || g || '@x.io', 'u' || g || ' 🐘', 'Rome', g % 2 = 0, (g * 1234.5 / 7)::numeric(12,2),
         ARRAY['a' || g, NULL], jsonb_build_object('n', g, 'b', true, 'x', jsonb_build_array(1.50, 'y')),
         timestamptz '2024-02-29 23:59:59.123456+05' + g * interval '1 hour', CASE WHEN g % 3 = 0 THEN NULL ELSE now() END
       FROM generate_series(1, 300) g`,
    );
    await query(env.source.url, "SELECT setval(pg_get_serial_sequence('users', 'id'), 1000)");
    runProducer(app, stops);
    const consumer = await startTestConsumer(app, 'peer');
    await waitForMysqlEqual(env, 120_000);
    const clean = await reconcile(deps, 'peer', { chunkSize: 70 });
    expect(clean.tables[0]).toMatchObject({ compared: 300, missing: 0, differing: 0, unsettled: 0 });
    expect(clean.drift).toBe(false);
    // every chunk agreed by its range hashes (mysql-hash.ts): no row was read at either side
    expect(clean.tables[0]).toMatchObject({ chunks: 5, chunksRead: 0 });

    // an owned row whose source delete never reaches the target (as if past the topic's retention),
    // a row changed at the source while its events wait in Kafka, drift made by hand at the target
    const writer = await keyedDriftAndRepair(app, env, deps, {
      consumer,
      writer: {
        insert:
          "INSERT INTO users (email, username, balance, tags, preferences) VALUES ($1, 'w', 1.5, '{a,NULL}', '{\"k\": [1, {\"z\": 2, \"a\": null}]}'), ($2, 'w', NULL, NULL, NULL)",
        set: "city = 'c' || $1::text, updated_at = clock_timestamp()",
      },
      sourceEdit: "UPDATE users SET city = 'Oslo', balance = 0.10 WHERE id = 4",
      target: {
        exec: (sql) => mysqlRows(env.mysql.url, sql),
        bookkeepingNullable:
          'ALTER TABLE users MODIFY _pgcdc_lsn BIGINT UNSIGNED NULL, MODIFY _pgcdc_seq BIGINT UNSIGNED NULL, MODIFY _pgcdc_event_id VARCHAR(255) NULL',
        bool: ['1', '0'],
        now: 'NOW(6)',
      },
      stops,
    });
    await writer.stop();
    const equal = await waitUntil(
      async () => {
        const c = await compareWithMysql(env);
        return c.differences.join() === 'id 100000 extra at the target' && c;
      },
      { what: 'the MariaDB peer to equal the source but the foreign row', timeoutMs: 120_000 },
    );
    expect(equal.targetRows).toBe(equal.sourceRows + 1);
    const after = await reconcile(deps, 'peer', { chunkSize: 50 });
    expect(after.tables[0]!.extra).toEqual({ owned: 0, foreign: 1 });
    expect(after.drift).toBe(false);
    const foreign = await reconcile(deps, 'peer', { chunkSize: 50, repair: true, includeForeign: true });
    expect(foreign.tables[0]!.repaired).toMatchObject({ fed: 0, removed: 1 });
    expect(await mysqlRows(env.mysql.url, 'SELECT id FROM users WHERE id = 100000')).toEqual([]);
  }, 600_000);
});
