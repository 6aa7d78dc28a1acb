// What every phase of the benchmark shares: the stack it runs on, the Kafka clients, the run's
// folder and result (filled as phases finish), and the per-round objects: a round's databases,
// slot, publication and topics are named after the run, the pipeline and the round, created fresh
// and dropped afterwards (cleanup stops the pipeline's processes first).
import type { StackSettings, StackUrls } from '../stack/settings.ts';
import type { KafkaAdminPort, KafkaClientFactory } from '../../pipeline/kafka/port.ts';
import { DebeziumDriver } from './debezium-driver.ts';
import type { PipelineDriver, Round } from './driver.ts';
import { dbUrl, deleteTopics, dropDatabase } from './env.ts';
import type { BenchOptions, BenchResult } from './result.ts';
import type { OpCounts } from './workload.ts';

export interface BenchContext {
  readonly opts: BenchOptions;
  readonly settings: StackSettings;
  readonly urls: StackUrls;
  readonly kafka: KafkaClientFactory;
  readonly admin: KafkaAdminPort;
  readonly runId: string;
  /** the run's folder: results, logs, profiles */
  readonly dir: string;
  /** filled as phases finish (baselines, workload row size) */
  readonly result: BenchResult;
  /** Kafka's tools (ProducerPerformance), when the baselines run */
  readonly toolsLibs: string | undefined;
  readonly say: (m: string) => void;
}

/** The objects of one round of one pipeline: unique names under the run's id. */
export function roundFor(ctx: BenchContext, d: PipelineDriver, tag: string, snapshot: boolean): Round {
  const id = `bench_${ctx.runId}_${d.name.slice(0, 3)}_${tag}`;
  return {
    id,
    adminUrl: ctx.urls.adminUrl,
    sourceDb: `${id}_src`,
    sourceUrl: dbUrl(ctx.urls.adminUrl, `${id}_src`),
    peerDb: `${id}_peer`,
    peerUrl: dbUrl(ctx.urls.adminUrl, `${id}_peer`),
    slot: `${id}_slot`,
    publication: `${id}_pub`,
    topicPrefix: id,
    snapshot,
  };
}

/** A check for `follow`: a measured process that exited, or a failed Debezium task. */
export function problems(d: PipelineDriver): () => Promise<string | undefined> {
  return async () => {
    const dead = d.processes().find((c) => !c.alive());
    if (dead) return `${dead.name} exited:\n${dead.tail(15)}`;
    if (d instanceof DebeziumDriver) {
      const f = await d.failures();
      if (f.length > 0) return f.join('; ');
    }
    return undefined;
  };
}

/** Stops the pipeline's processes, drops the round's databases and deletes its topics. */
export async function cleanupRound(
  ctx: BenchContext,
  d: PipelineDriver,
  r: Round,
  extraTopics: string[] = [],
): Promise<void> {
  await d.stopSource().catch(() => undefined);
  await d.stopSink().catch(() => undefined);
  await dropDatabase(r.adminUrl, r.sourceDb).catch((e: unknown) =>
    ctx.say(`cleanup: ${(e as Error).message}`),
  );
  await dropDatabase(r.adminUrl, r.peerDb).catch((e: unknown) => ctx.say(`cleanup: ${(e as Error).message}`));
  await deleteTopics(ctx.admin, [d.topic(r), ...extraTopics]);
}

export function addCounts(a: OpCounts, b: OpCounts): OpCounts {
  return { c: a.c + b.c, u: a.u + b.u, d: a.d + b.d };
}
