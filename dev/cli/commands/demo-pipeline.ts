// The demo's pipeline lifecycle: reset what an earlier demo left (slot, position, publication,
// source and peer tables, topics, consumer groups), start the producer and the consumers, stop them.
import pg from 'pg';
import { forgetPosition } from '../../../producers/postgres/position.ts';
import { createUsersTable } from '../../stack/stack.ts';
import { startConsumer, startProducer, serveMetrics } from '../../../pipeline/compose.ts';
import { dlqTopicFor, groupFor } from '../../../pipeline/config/schema.ts';
import { statusTopicFor } from '../../../pipeline/supervision/status-store.ts';
import { createFixtureTables, FIXTURE_TABLES } from '../../tables/index.ts';
import type { DemoReceiver } from './demo-webhook.ts';
import { say, waitFor, withClient, type DemoPipeline, type DemoSetup } from './demo-support.ts';

/** Drops what an earlier demo left: slot, position, publication, tables, topics, consumer groups. */
export async function resetDemo({ config, target, hook, app, topics }: DemoSetup): Promise<void> {
  say('resetting the demo: slot, publication, topics, consumer group, source and peer tables');
  await withClient(config.source.url, async (c) => {
    await c.query(
      'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active',
      [config.source.slot],
    );
    await forgetPosition(c, config.source.position, config.source.slot); // the slot is gone on purpose
    await c.query(`DROP PUBLICATION IF EXISTS ${pg.escapeIdentifier(config.source.publication)}`);
    await c.query('DROP TABLE IF EXISTS public.memberships, public.groups, public.users');
  });
  await createUsersTable(config.source.url);
  await createFixtureTables(config.source.url);
  // the peer has each table under its source name (docs/tables.md), bookkeeping tables beside
  await withClient(target.url, async (c) => {
    for (const name of FIXTURE_TABLES) {
      const [schema, table] = name.split('.') as [string, string];
      for (const suffix of ['', '_pgcdc_deleted', '_pgcdc_truncated'])
        await c.query(
          `DROP TABLE IF EXISTS ${pg.escapeIdentifier(schema)}.${pg.escapeIdentifier(table + suffix)}`,
        );
    }
  });
  const admin = app.kafka.admin();
  const groups = app.kafka.groupAdmin();
  await Promise.all([admin.connect(), groups.connect()]);
  try {
    // Deleting the topic also drops the group's offsets for it; deleting the group is
    // refused while a killed earlier demo's member has not timed out, which is harmless.
    for (const topic of topics) await admin.deleteTopic(topic);
    await admin.deleteTopic(dlqTopicFor(config.kafka, target));
    // the status records too: a target's applied / dead-lettered counters continue from its
    // record (pipeline/supervision/status-store.ts), and this run's counts start from nothing
    await admin.deleteTopic(statusTopicFor(config.kafka, config.operations));
    await groups.deleteGroup(groupFor(config.kafka, target)).catch(() => undefined);
    if (hook) await admin.deleteTopic(dlqTopicFor(config.kafka, hook.target));
    if (hook) await groups.deleteGroup(groupFor(config.kafka, hook.target)).catch(() => undefined);
  } finally {
    await admin.disconnect();
    await groups.disconnect();
  }
}

/** Starts the producer (waits until it streams), the targets' consumers and the metrics server. */
export async function startPipeline({ config, target, hook, app, topics }: DemoSetup): Promise<DemoPipeline> {
  say(
    `running the producer (slot ${config.source.slot} -> topics ${topics.join(', ')}) and target "${target.name}" (${target.url.replace(/\/\/.*@/, '//')})`,
  );
  const { producer, done } = startProducer(app);
  await waitFor('the producer to stream', () => Promise.resolve(producer.state().running));
  const consumer = await startConsumer(app, target.name);
  const hookConsumer = hook ? await startConsumer(app, hook.target.name) : undefined;
  const server = await serveMetrics(app.metrics, app.config.metrics, () => ({
    ok: true,
    detail: {},
  })).catch(() => undefined);
  if (server) say(`metrics on http://${config.metrics.host}:${config.metrics.port}/metrics`);
  return { producer, done, consumer, hookConsumer, server };
}

/** Stops the producer (and waits for its run to end), the consumers, the receiver, the metrics server. */
export async function stopPipeline(p: DemoPipeline, hook: DemoReceiver | undefined): Promise<void> {
  await p.producer.stop();
  await p.done;
  await p.consumer.stop();
  await p.hookConsumer?.stop();
  await hook?.close();
  p.server?.close();
}
