// The raw baselines measured inside the first pipeline's rounds, on the same workload: how fast
// pg_recvlogical drains a second slot over the same changes, how fast Kafka's own
// ProducerPerformance writes records of our mean size, and how fast a plain multi-row upsert
// copies the source table into the peer. A failed baseline is recorded in the result's errors and
// never fails the round.
import type { PipelineDriver, Round } from './driver.ts';
import type { BenchContext } from './context.ts';
import { kafkaProducerPerfRate, rawUpsertRate, recvlogicalRate } from './baselines.ts';
import { withPg } from './env.ts';

/** pg_recvlogical over `rawSlot` up to `endLsn`; the slot is dropped afterwards. */
export async function recvlogicalBaseline(
  ctx: BenchContext,
  r: Round,
  rawSlot: string,
  endLsn: string,
  events: number,
): Promise<void> {
  try {
    const rl = await recvlogicalRate(r.sourceUrl, rawSlot, r.publication, endLsn, events);
    (ctx.result.baselines.recvlogical ??= []).push(rl);
    ctx.say(`  baseline pg_recvlogical: ${Math.round(rl.rate)} events/s`);
  } catch (err) {
    ctx.result.baselines.errors.push(`pg_recvlogical: ${(err as Error).message}`);
  } finally {
    await withPg(r.sourceUrl, (c) => c.query('SELECT pg_drop_replication_slot($1)', [rawSlot])).catch(
      () => undefined,
    );
  }
}

/** ProducerPerformance with records of the mean size of the round's topic (sampled). */
export async function kafkaBaselines(
  ctx: BenchContext,
  d: PipelineDriver,
  r: Round,
  records: number,
  extraTopics: string[],
): Promise<void> {
  if (!ctx.toolsLibs) return;
  try {
    const sample = await ctx.kafka.reader().read(
      d.topic(r),
      [0, 1, 2].map((p) => ({ partition: p, from: 0n, to: 400n })),
      { limitPerPartition: 400, timeoutMs: 20_000 },
    );
    const sized = sample.filter((m) => m.value !== null);
    const size = Math.round(
      sized.reduce((s, m) => s + (m.value?.length ?? 0) + (m.key?.length ?? 0), 0) /
        Math.max(1, sized.length),
    );
    ctx.result.workloadRowBytes = size;
    const topic = `${r.topicPrefix}.perf`;
    await ctx.admin.ensureTopic({ topic, partitions: 3, replicationFactor: 1 });
    extraTopics.push(topic);
    // enough records that the JVM's start-up and warm-up do not dominate
    const n = Math.max(records * 3, 200_000);
    const perf = await kafkaProducerPerfRate(ctx.toolsLibs, ctx.urls.kafkaBrokers, topic, n, size);
    ctx.result.baselines.kafkaProducerPerf = { ...perf, recordSize: size, records: n };
    ctx.say(
      `  baseline Kafka ProducerPerformance: ${Math.round(perf.rate)} records/s of ${size} bytes (${perf.note})`,
    );
  } catch (err) {
    ctx.result.baselines.errors.push(`ProducerPerformance: ${(err as Error).message}`);
    ctx.say(`  baseline Kafka ProducerPerformance failed: ${(err as Error).message}`);
  }
}

/** A multi-row upsert of the source table into the peer. */
export async function rawUpsertBaseline(ctx: BenchContext, r: Round): Promise<void> {
  try {
    const raw = await rawUpsertRate(r.sourceUrl, r.peerUrl);
    (ctx.result.baselines.rawUpsert ??= []).push(raw);
    ctx.say(`  baseline multi-row upsert: ${Math.round(raw.rate)} rows/s`);
  } catch (err) {
    ctx.result.baselines.errors.push(`raw upsert: ${(err as Error).message}`);
  }
}
