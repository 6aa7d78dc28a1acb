// Reconcile tests' shared moves on the real stack.
// - skipPastRetention: changes a target never sees, as if its consumer had been down past the
//   topic's retention. With the target's consumers stopped, the changes are made at the source;
//   once the producer has published them (the slot's confirmed_flush_lsn passed them), each
//   target's consumer group is moved to the end of the change topic, so the events are skipped
//   and the targets keep the rows as they were (an owned row whose source delete never arrived, a
//   row that left a filter unseen). Nothing written at the source after `change` is skipped.
// - reconcileWhileReturning: a reconcile run during which a stopped consumer comes back, once the
//   pass has begun, so its backlog is lag that the run must not report as drift.
// - ownRowsWriter: concurrent source writes that touch only rows of their own (email w...), so
//   rows injected with drift keep it; driftSamples: a table report's samples in a stable order.
// - keyedDriftAndRepair: the id-keyed reconcile tests' scenario at a Postgres or MariaDB target:
//   drift injected under concurrent writes, the exact report it must give, then --repair.
// Every wait has a deadline.
import type { App } from '../../pipeline/compose.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'vitest';
import {
  reconcile,
  type ReconcileDeps,
  type ReconcileOptions,
  type ReconcileReport,
  type TableReport,
} from '../../ops/reconcile/index.ts';
import { groupFor, type TargetConfig } from '../../pipeline/config/schema.ts';
import type { PipelineEnv } from './pipeline.ts';
import { query, startTestConsumer, writerLoop, type Stops } from './pipeline.ts';
import { waitUntil } from './wait.ts';

export interface SkipPastRetention {
  /** the consumers to stop first (the targets' consumers in this process) */
  consumers: { stop(): Promise<unknown> }[];
  /** the source changes the targets must not see */
  change: () => Promise<unknown>;
  /** whose groups move past them (default: every target of the configuration) */
  targets?: TargetConfig[];
  /** how long the producer may take to publish them (default 60 s) */
  publishTimeoutMs?: number;
}

export async function skipPastRetention(
  app: App,
  env: Pick<PipelineEnv, 'source' | 'config' | 'topic'>,
  o: SkipPastRetention,
): Promise<void> {
  for (const c of o.consumers) await c.stop();
  await o.change();
  const { lsn } = (
    await query<{ lsn: string }>(env.source.url, 'SELECT pg_current_wal_lsn()::text AS lsn')
  )[0]!;
  const admin = app.kafka.admin();
  await admin.connect();
  const groups = app.kafka.groupAdmin();
  await groups.connect();
  try {
    await waitUntil(
      async () =>
        (
          await query(
            env.source.url,
            'SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND confirmed_flush_lsn >= $2::pg_lsn',
            [env.config.source.slot, lsn],
          )
        ).length > 0,
      { what: 'the skipped changes to be published', timeoutMs: o.publishTimeoutMs ?? 60_000 },
    );
    const ends = await admin.topicOffsets(env.topic);
    for (const t of o.targets ?? env.config.targets)
      await groups.setGroupOffsets(
        groupFor(env.config.kafka, t),
        env.topic,
        ends.map((e) => ({ partition: e.partition, offset: e.high })),
      );
  } finally {
    await admin.disconnect();
    await groups.disconnect();
  }
}

/**
 * reconcile(deps, target, options) with the target's consumer started again at the pass's first
 * progress: the report, and the consumer (started once the run has ended).
 */
export async function reconcileWhileReturning(
  app: App,
  deps: ReconcileDeps,
  target: string,
  options: ReconcileOptions = {},
) {
  let restarted: ReturnType<typeof startTestConsumer> | undefined;
  const report = await reconcile(deps, target, {
    ...options,
    progress: (p) => {
      restarted ??= startTestConsumer(app, target);
      options.progress?.(p);
    },
  });
  const consumer = await (restarted ?? startTestConsumer(app, target));
  return { report, consumer };
}

export interface OwnRows {
  /** the INSERT of two rows into users; $1 and $2 are their emails, the rest from `params` */
  insert: string;
  /** further INSERT parameters of the n-th transaction */
  params?: (n: number) => unknown[];
  /** the SET clause updating two of the writer's rows; $1 is the transaction number as text */
  set: string;
  /** pause after each transaction (a matched target, applied event by event, keeps up) */
  pauseMs?: number;
}

/** Writes only rows of its own (email w...), so the injected rows keep their drift. */
export function ownRowsWriter(url: string, o: OwnRows) {
  let n = 0;
  return writerLoop({ connectionString: url }, { txns: 0 }, async (c) => {
    n++;
    await c.query('BEGIN');
    await c.query(o.insert, [`w${n}a@x.io`, `w${n}b@x.io`, ...(o.params?.(n) ?? [])]);
    await c.query(
      `UPDATE users SET ${o.set} WHERE id IN (SELECT id FROM users WHERE email LIKE 'w%' ORDER BY random() LIMIT 2)`,
      [n],
    );
    await c.query(
      "DELETE FROM users WHERE id IN (SELECT id FROM users WHERE email LIKE 'w%' ORDER BY random() LIMIT 1)",
    );
    await c.query('COMMIT');
    if (o.pauseMs) await sleep(o.pauseMs);
  });
}

/** A table report's drift samples in a stable order, with the unsettled count. */
export const driftSamples = (t: TableReport) => ({
  missing: [...t.samples.missing].sort(),
  differing: [...t.samples.differing].sort((a, b) => a.key.localeCompare(b.key)),
  extra: [...t.samples.extra].sort((a, b) => a.key.localeCompare(b.key)),
  unsettled: t.unsettled,
});

export interface KeyedTarget {
  /** runs one statement at the target */
  exec: (sql: string) => Promise<unknown>;
  /** the ALTER that lets a row without bookkeeping in (a foreign row) */
  bookkeepingNullable: string;
  /** true and false in the target's SQL */
  bool: [string, string];
  /** now() in the target's SQL */
  now: string;
}

export interface KeyedDrift {
  /** the target's consumer, running (stopped to skip row 3's delete) */
  consumer: { stop(): Promise<unknown> };
  target: KeyedTarget;
  writer: OwnRows;
  /** a source UPDATE of row 4 made while the consumer is stopped (lag, not drift) */
  sourceEdit: string;
  stops: Stops;
}

/**
 * The id-keyed tests' scenario at the `users` target `peer` (seeded with ids 1..300, equal to the
 * source): row 3's source delete skipped as past retention, row 4 changed at the source while its
 * events wait, and at the target row 1 deleted, row 2's city edited and a foreign row 100000 (no
 * bookkeeping), all under the writer's concurrent writes. The report must name exactly that drift
 * while the consumer comes back during the pass; --repair feeds 2 rows and removes 1. Returns the
 * writer, still running.
 */
export async function keyedDriftAndRepair(
  app: App,
  env: Pick<PipelineEnv, 'source' | 'config' | 'topic'>,
  deps: ReconcileDeps,
  o: KeyedDrift,
) {
  await skipPastRetention(app, env, {
    consumers: [o.consumer],
    change: () => query(env.source.url, 'DELETE FROM users WHERE id = 3'),
  });
  const writer = ownRowsWriter(env.source.url, o.writer);
  o.stops.push(() => writer.stop());
  await query(env.source.url, o.sourceEdit);
  await injectKeyedDrift(o.target);

  const { report, consumer } = await reconcileWhileReturning(app, deps, 'peer', { chunkSize: 50 });
  o.stops.push(() => consumer.stop());
  expectKeyedDrift(report);
  const repaired = await reconcile(deps, 'peer', { chunkSize: 50, repair: true });
  expect(repaired.tables[0]!.repaired).toMatchObject({ fed: 2, removed: 1 });
  return writer;
}

async function injectKeyedDrift(t: KeyedTarget): Promise<void> {
  await t.exec('DELETE FROM users WHERE id = 1');
  await t.exec("UPDATE users SET city = 'Nowhere' WHERE id = 2");
  await t.exec(t.bookkeepingNullable);
  const [yes, no] = t.bool;
  await t.exec(
    `INSERT INTO users (id, email, username, is_active, is_blocked, created_at, updated_at) VALUES (100000, 'foreign@x.io', 'foreign', ${yes}, ${no}, ${t.now}, ${t.now})`,
  );
}

function expectKeyedDrift(report: ReconcileReport): void {
  const t = report.tables[0]!;
  expect(t.samples.missing).toEqual(['1']);
  expect(t.samples.differing).toEqual([{ key: '2', columns: ['city'] }]);
  expect(driftSamples(t).extra).toEqual([
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
}
