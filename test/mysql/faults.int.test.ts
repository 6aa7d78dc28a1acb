// Faults with a MariaDB target: the server stopped for 20 s (backoff, status ERR with the cause,
// catch-up, nothing dead-lettered), the consumer SIGKILLed right after a target commit and before
// its offset commit (the redelivered events are absorbed by the position guard), and a random
// concurrent workload over every column type: each ends with the MariaDB table equal to the
// source, column by column.
import { describe, expect, it } from 'vitest';
import { mariadbReady, startMariadb, stopMariadb } from '../../dev/stack/mariadb.ts';
import { stackSettingsFromEnv } from '../../dev/stack/settings.ts';
import { gatherStatus } from '../../ops/status.ts';
import { groupFor } from '../../pipeline/config/schema.ts';
import { cleanupAfterEach } from '../support/cleanup.ts';
import { holdFor, sampler } from '../support/faults.ts';
import { stackUrls, waitUntil } from '../support/index.ts';
import { appliedButUncommitted, expectBackedOffWithCause } from '../support/target-faults.ts';
import {
  continuousWriter,
  deadLetters,
  runInProcess,
  spawnCli,
  testApp,
  writerLoop,
} from '../support/pipeline.ts';
import { mysqlPipelineEnv, mysqlRows, waitForMysqlEqual } from './support.ts';

const OUTAGE_MS = 20_000;
const urls = stackUrls();
const cleanups = cleanupAfterEach(90_000);
const settings = stackSettingsFromEnv(process.env);

async function env(name: string, target: Record<string, unknown> = {}) {
  const e = await mysqlPipelineEnv(urls, name, target, { operations: { statusIntervalMs: 500 } });
  cleanups.push(() => e.drop());
  return e;
}

describe('mysql target faults', () => {
  it('MariaDB stopped for 20 s: backoff, ERR with the cause, catch-up, peer ends equal', async () => {
    const e = await env('my_down');
    const app = testApp(e.config);
    const pipeline = await runInProcess(app);
    cleanups.push(() => pipeline.stop());
    const consumer = pipeline.consumers[0]!;
    const writer = continuousWriter(e.source.url, 7);
    cleanups.push(() => writer.stop());
    await waitUntil(() => consumer.status().applied > 100, { what: 'events to flow', timeoutMs: 60_000 });
    const failedBefore = consumer.status().failed;

    cleanups.push(async () => {
      if (!(await mariadbReady(settings))) await startMariadb(settings, () => undefined);
    });
    await stopMariadb(settings);
    const cutAt = Date.now();
    const samples = sampler(250, () => Promise.resolve({ at: Date.now() - cutAt, ...consumer.status() }));
    const err = await waitUntil(() => consumer.status().state === 'ERR' && consumer.status(), {
      what: 'the target status to turn ERR',
      timeoutMs: 30_000,
    });
    const view = await waitUntil(
      async () => {
        const st = await gatherStatus(e.config, app.kafka);
        return st.targets[0]?.state === 'ERR' && st.targets[0];
      },
      { what: 'pgcdc status to show the target ERR', timeoutMs: 15_000 },
    );
    await holdFor(OUTAGE_MS - (Date.now() - cutAt));
    await startMariadb(settings, () => undefined);
    const restoredAt = Date.now() - cutAt;
    await waitUntil(() => consumer.status().state === 'OK', {
      what: 'the target to recover',
      timeoutMs: 90_000,
    });
    const recoveredAt = Date.now() - cutAt;
    const during = (await samples.stop()).filter((s) => s.at <= restoredAt);
    const counts = await writer.stop();
    await waitForMysqlEqual(e);

    const failedDuring = expectBackedOffWithCause(
      err,
      during,
      cutAt,
      failedBefore,
      /target peer: .*(ECONNREFUSED|ECONNRESET|connect|closed|shutdown|lost|gone away)/i,
    );
    expect(view.lastStatus).toBe('ERR');
    expect(await deadLetters(app.kafka, e)).toEqual([]);
    console.log(
      `MariaDB down ${OUTAGE_MS / 1000} s: ${failedDuring} failed attempts; OK again ${((recoveredAt - restoredAt) / 1000).toFixed(1)} s after it came back; writer ${counts.txns} txns; error: ${err.lastError}`,
    );
  }, 240_000);

  it('consumer SIGKILLed between the target commit and the offset commit: redelivery is absorbed', async () => {
    const e = await env('my_kill', { batchSize: 50 });
    const app = testApp(e.config);
    const producer = await runInProcess(app, { targets: [] });
    cleanups.push(() => producer.stop());
    const writer = continuousWriter(e.source.url, 13);
    cleanups.push(() => writer.stop());
    const admin = app.kafka.admin();
    await admin.connect();
    cleanups.push(() => admin.disconnect());
    const group = groupFor(e.config.kafka, { name: 'peer' });
    const syncedAt = async () => {
      const [r] = await mysqlRows(e.mysql.url, 'SELECT MAX(_pgcdc_synced_at) AS t FROM users').catch(() => [
        { t: null },
      ]);
      return r?.t ?? null;
    };
    const uncommitted: number[] = [];
    // MySQL has no NOTIFY: the test polls the newest _pgcdc_synced_at and kills the consumer the
    // moment a new target commit shows, then proves from the committed offsets whether the kill
    // landed between that commit and the offset commit; at least 3 kills, up to 10 for a proof.
    for (let round = 0; round < 10 && (round < 3 || !uncommitted.some((n) => n > 0)); round++) {
      const child = spawnCli(['consume', '-c', e.configFile, '--target', 'peer']);
      let last = await syncedAt();
      let commits = 0;
      await waitUntil(
        async () => {
          const now = await syncedAt();
          if (now !== last) {
            last = now;
            if (++commits >= 3) {
              child.proc.kill('SIGKILL');
              return true;
            }
          }
          return false;
        },
        { timeoutMs: 90_000, intervalMs: 5, what: `target commits in round ${round}` },
      );
      await child.kill('SIGKILL');
      const atPeer = new Set(
        (await mysqlRows(e.mysql.url, 'SELECT _pgcdc_event_id AS id FROM users')).map(
          (r) => `${r.id as string}`,
        ),
      );
      uncommitted.push(await appliedButUncommitted(app.kafka, admin, group, e.topic, atPeer));
    }
    expect(uncommitted.some((n) => n > 0)).toBe(true);
    const child = spawnCli(['consume', '-c', e.configFile, '--target', 'peer']);
    cleanups.push(() => child.kill('SIGTERM'));
    await writer.stop();
    await waitForMysqlEqual(e, 120_000);
    expect(await deadLetters(app.kafka, e)).toEqual([]);
    console.log(
      `mysql consumer killed at a target commit ${uncommitted.length} times; applied-but-uncommitted events per kill: ${uncommitted.join(', ')}`,
    );
  }, 420_000);

  it('a random concurrent workload over every column type ends equal to the source', async () => {
    const e = await env('my_random', { batchSize: 100 });
    const pipeline = await runInProcess(testApp(e.config));
    cleanups.push(() => pipeline.stop());
    const writers = [1, 2].map((seed) => continuousWriter(e.source.url, seed));
    for (const w of writers) cleanups.push(() => w.stop());
    let x = 42;
    const rand = () => ((x = (x * 1103515245 + 12345) % 2147483648), x / 2147483648);
    const mixed = writerLoop({ connectionString: e.source.url }, { txns: 0 }, async (c) => {
      await c.query('BEGIN');
      const n = 1 + Math.floor(rand() * 4);
      for (let i = 0; i < n; i++) {
        const r = rand();
        if (r < 0.4)
          await c.query(
            `INSERT INTO users (email, username, preferences, tags, balance, last_login_at, is_blocked)
             VALUES ('m' || md5(random()::text) || '@x.io', 'm🐘' || $1, jsonb_build_object('k', $1::text, 'a', jsonb_build_array($2::numeric)),
               ARRAY[$1::text, NULL], $2::numeric(12,2), now() - random() * interval '3000 days', random() < 0.5)`,
            [String(Math.floor(rand() * 1e6)), (rand() * 1e6 - 5e5).toFixed(2)],
          );
        else if (r < 0.85)
          await c.query(
            `UPDATE users SET bio = CASE WHEN random() < 0.3 THEN NULL ELSE 'é' || md5(random()::text) END,
               tags = CASE WHEN random() < 0.5 THEN tags ELSE ARRAY['x', md5(random()::text)] END,
               preferences = preferences || jsonb_build_object('t', clock_timestamp()::text),
               updated_at = clock_timestamp(), is_active = NOT is_active
             WHERE id IN (SELECT id FROM users ORDER BY random() LIMIT 2)`,
          );
        else await c.query('DELETE FROM users WHERE id IN (SELECT id FROM users ORDER BY random() LIMIT 1)');
      }
      await c.query('COMMIT');
    });
    cleanups.push(() => mixed.stop());
    await waitUntil(() => pipeline.consumers[0]!.status().applied > 3000, {
      what: '3000 events applied under the concurrent workload',
      timeoutMs: 180_000,
    });
    await Promise.all([...writers.map((w) => w.stop()), mixed.stop()]);
    const result = await waitForMysqlEqual(e, 120_000);
    expect(result.sourceRows).toBeGreaterThan(500);
    expect(pipeline.consumers[0]!.status().deadLettered).toBe(0);
    console.log(`random workload: ${result.sourceRows} rows equal, column by column`);
  }, 360_000);
});
