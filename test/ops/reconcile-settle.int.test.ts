// Reconcile's "no false alarms from lag" on the extra side, on the real stack, with a target that
// filters (is_active) and soft-deletes, as test/ops/reconcile-shaped's `shop`:
// - rows deleted or moved out of the filter at the source while the target's consumer is stopped,
//   the consumer coming back only once the pass has begun: no extra row is reported;
// - rows that move while the settle step decides them (deterministic, at the settle step's seams):
//   a row out of the filter at both source reads that was in it between them (the target applied
//   only the entry), a row updated and changed back, a deleted key inserted again and deleted again.
//   None is drift: each is decided again and found equal once the target caught up;
// - every event delivered again from the start of the topic (as after a consumer group member was
//   evicted mid-batch): the target keeps no row it should have removed, and reconcile finds no drift.
import { afterAll, describe, expect, it } from 'vitest';
import { groupFor } from '../../pipeline/config/schema.ts';
import { reconcile } from '../../ops/reconcile/index.ts';
import { catchUpWaiter } from '../../ops/reconcile/catch-up.ts';
import { planTarget, readableTarget } from '../../ops/reconcile/plan.ts';
import { postgresTargetReader } from '../../ops/reconcile/pg-target.ts';
import { withReconcileClient } from '../../ops/reconcile/postgres.ts';
import { settle } from '../../ops/reconcile/settle.ts';
import type { TargetReader } from '../../ops/reconcile/scan.ts';
import { targetTopicsOf } from '../../pipeline/config/schema.ts';
import { stackUrls, waitUntil } from '../support/index.ts';
import { reconcileWhileReturning } from '../support/reconcile.ts';
import {
  dropPipelineEnv,
  pipelineEnv,
  query,
  runProducer,
  startTestConsumer,
  testApp,
  type PipelineEnv,
  type Stops,
} from '../support/pipeline.ts';

const stops: Stops = [];
let cleanup: (() => Promise<void>) | undefined;
afterAll(async () => cleanup?.());

const SHOP_MAPPING = {
  include: ['id', 'email', 'username', 'city', 'is_active'],
  filter: 'is_active',
  deletePolicy: 'soft',
  softDelete: { column: 'deleted', type: 'boolean' },
};
/** What the target must hold, straight from the source (not through the code under test). */
const EXPECTED = `SELECT id::text, email, username, city FROM users WHERE is_active ORDER BY id`;
const ACTUAL = `SELECT id::text, email, username, city FROM shop_users WHERE NOT deleted ORDER BY id`;

async function equal(e: PipelineEnv) {
  const [a, b] = await Promise.all([query(e.source.url, EXPECTED), query(e.peer.url, ACTUAL)]);
  return JSON.stringify(a) === JSON.stringify(b) ? a.length : undefined;
}

const live = async (e: PipelineEnv, id: number, city: string) =>
  (
    await query(e.peer.url, 'SELECT 1 FROM shop_users WHERE id = $1 AND NOT deleted AND city = $2', [
      id,
      city,
    ])
  ).length > 0;

describe('reconcile: no false extra rows from lag', () => {
  it('rows leaving the target in flight, moving during the settle step, or delivered again are not drift', async () => {
    const env = await pipelineEnv(stackUrls(), 'rec_settle', {
      peer: { name: 'shop', table: 'shop_users', mapping: SHOP_MAPPING },
    });
    const app = testApp(env.config);
    cleanup = () => dropPipelineEnv(env, app.kafka, stops);
    const deps = { config: env.config, pg: app.pg, kafka: app.kafka, logger: app.logger };
    await query(
      env.source.url,
      `INSERT INTO users (id, email, username, city, is_active)
       SELECT g, 'u' || g || '@x.io', 'u' || g, 'Rome', g NOT IN (7, 20) FROM generate_series(1, 60) g`,
    );
    runProducer(app, stops);
    let consumer = await startTestConsumer(app, 'shop');
    stops.push(() => consumer.stop());
    await waitUntil(() => equal(env), { what: 'shop synced', timeoutMs: 120_000 });

    // 1. deleted / out of the filter at the source while the consumer is stopped: lag, not extra rows
    await consumer.stop();
    await query(env.source.url, 'DELETE FROM users WHERE id IN (3, 30)');
    await query(env.source.url, 'UPDATE users SET is_active = false WHERE id IN (5, 50)');
    const returned = await reconcileWhileReturning(app, deps, 'shop', { chunkSize: 10 });
    consumer = returned.consumer;
    const lagged = returned.report;
    expect(lagged.tables[0]).toMatchObject({ missing: 0, differing: 0, extra: { owned: 0, foreign: 0 } });
    expect(lagged.tables[0]!.unsettled).toBe(0);
    expect(lagged.drift).toBe(false);

    // 2. rows moving while the settle step decides them, at its seams: the catch-up wait (between
    // the first source read and the target read) and the target read (before the second source read)
    await query(env.source.url, 'DELETE FROM users WHERE id = 11');
    await waitUntil(() => equal(env), { what: 'row 11 removed at the target', timeoutMs: 120_000 });
    const plan = planTarget(env.config, readableTarget(env.config, 'shop'))[0]!;
    const target = readableTarget(env.config, 'shop');
    const admin = app.kafka.admin();
    await admin.connect();
    const settled = await withReconcileClient(app.pg, env.config.source.url, (source) =>
      withReconcileClient(app.pg, env.peer.url, async (peer) => {
        const caughtUp = catchUpWaiter({
          source,
          slot: env.config.source.slot,
          admin,
          group: groupFor(env.config.kafka, target),
          topics: targetTopicsOf(env.config.kafka, env.config.source, target),
          timeoutMs: 120_000,
        });
        let round = 0;
        const reader = postgresTargetReader(peer);
        const scripted: TargetReader = {
          ...reader,
          async rowsByKeys(p, keys) {
            const rows = await reader.rowsByKeys(p, keys);
            if (round === 1) {
              // after the target read: each row goes back to what the first source read saw
              await query(env.source.url, "UPDATE users SET is_active = false, city = 'Rome' WHERE id = 7");
              await query(env.source.url, "UPDATE users SET city = 'Rome' WHERE id = 9");
              await query(env.source.url, 'DELETE FROM users WHERE id = 11');
            }
            return rows;
          },
        };
        return settle(plan, source, scripted, ['7', '9', '11'], async (lsn) => {
          round++;
          if (!(await caughtUp(lsn))) return false;
          if (round > 1) return true;
          // between the first source read and the target read: each row changes, and the target applies it
          await query(env.source.url, "UPDATE users SET is_active = true, city = 'Oslo' WHERE id = 7");
          await query(env.source.url, "UPDATE users SET city = 'Oslo' WHERE id = 9");
          await query(
            env.source.url,
            "INSERT INTO users (id, email, username, city, is_active) VALUES (11, 'u11@x.io', 'u11', 'Oslo', true)",
          );
          for (const id of [7, 9, 11])
            await waitUntil(() => live(env, id, 'Oslo'), {
              what: `row ${id} in its moved state at the target`,
              timeoutMs: 120_000,
            });
          return true;
        });
      }),
    ).finally(() => admin.disconnect());
    expect(settled).toMatchObject({ missing: [], extra: [], differing: [], unsettled: [], caughtUp: true });

    // 3. every event delivered again from the start of the topic, as after an evicted member's batch
    await waitUntil(() => equal(env), { what: 'shop synced again', timeoutMs: 120_000 });
    await consumer.stop();
    const admin2 = app.kafka.admin();
    await admin2.connect();
    const starts = await admin2.topicOffsets(env.topic).finally(() => admin2.disconnect());
    const groups = app.kafka.groupAdmin();
    await groups.connect();
    await groups
      .setGroupOffsets(
        groupFor(env.config.kafka, target),
        env.topic,
        starts.map((s) => ({ partition: s.partition, offset: s.low })),
      )
      .finally(() => groups.disconnect());
    consumer = await startTestConsumer(app, 'shop');
    const again = await reconcile(deps, 'shop', { chunkSize: 10 });
    expect(again.tables[0]).toMatchObject({ missing: 0, differing: 0, extra: { owned: 0, foreign: 0 } });
    expect(again.drift).toBe(false);
    await waitUntil(() => equal(env), { what: 'shop equal after the redelivery', timeoutMs: 120_000 });
  }, 600_000);
});
