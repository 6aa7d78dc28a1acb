// Reconcile tests' shared moves on the real stack.
// - skipPastRetention: changes a target never sees, as if its consumer had been down past the
//   topic's retention. With the target's consumers stopped, the changes are made at the source;
//   once the producer has published them (the slot's confirmed_flush_lsn passed them), each
//   target's consumer group is moved to the end of the change topic, so the events are skipped
//   and the targets keep the rows as they were (an owned row whose source delete never arrived, a
//   row that left a filter unseen). Nothing written at the source after `change` is skipped.
// - reconcileWhileReturning: a reconcile run during which a stopped consumer comes back, once the
//   pass has begun, so its backlog is lag that the run must not report as drift.
// Every wait has a deadline.
import type { App } from '../../pipeline/compose.ts';
import { reconcile, type ReconcileDeps, type ReconcileOptions } from '../../ops/reconcile/index.ts';
import { groupFor, type TargetConfig } from '../../pipeline/config/schema.ts';
import type { PipelineEnv } from './pipeline.ts';
import { query, startTestConsumer } from './pipeline.ts';
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
