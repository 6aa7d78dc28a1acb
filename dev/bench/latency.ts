// The end-to-end latency phases of the last round: the workload written at each fixed rate, then at
// saturation, for `latencySeconds` each while the pipeline runs; per row, the source commit time
// (updated_at = clock_timestamp()) against the time it was applied at the peer. For our pipeline
// also commit -> Kafka ack and the peer transaction's duration, from the histograms its processes
// export (the difference over the phase). Per phase also the lag trend: the p50 of each third of
// it, and its growth from the first third to the last (stats.ts lagTrend).
import { addCounts, problems, type BenchContext } from './context.ts';
import type { PipelineDriver, Round } from './driver.ts';
import { groupPosition, peerLatency, peerLatencyThirds, topicMessages } from './env.ts';
import { follow } from './follow.ts';
import { PgcdcDriver } from './pgcdc-driver.ts';
import type { CpuMeter } from './proc.ts';
import type { LatencyResult } from './result.ts';
import { diffHistogram, histogramQuantileMs, scrapeHistogram, type HistogramSnapshot } from './scrape.ts';
import { lagTrend } from './stats.ts';
import { kafkaMessagesFor, type OpCounts } from './workload.ts';
import type { LoadWriter } from './writer.ts';

/** Runs the phases; `written` counts the round's changes so far (the topic's expected total). */
export async function latencyPhases(
  ctx: BenchContext,
  d: PipelineDriver,
  r: Round,
  writer: LoadWriter,
  meter: () => CpuMeter,
  counts: OpCounts,
): Promise<{ latency: LatencyResult[]; written: OpCounts }> {
  const o = ctx.opts;
  let written = counts;
  const latency: LatencyResult[] = [];
  const phases: { label: string; rate: number | undefined }[] = [
    ...o.rates.map((x) => ({ label: `${x}/s`, rate: x })),
    ...(o.saturation ? [{ label: 'saturation', rate: undefined }] : []),
  ];
  const metricsUrl = d instanceof PgcdcDriver ? d.sourceMetricsUrl() : undefined;
  const publishHist = () =>
    metricsUrl ? scrapeHistogram(metricsUrl, 'pgcdc_publish_latency_seconds') : Promise.resolve(undefined);
  const sinkUrl = d instanceof PgcdcDriver ? d.sinkMetricsUrl() : undefined;
  const applyHist = () =>
    sinkUrl ? scrapeHistogram(sinkUrl, 'pgcdc_target_apply_duration_seconds') : Promise.resolve(undefined);
  const stageHists = () => consumerStages(sinkUrl);
  for (const ph of phases) {
    const m = meter();
    const histBefore = await publishHist();
    const applyBefore = await applyHist();
    const stagesBefore = await stageHists();
    const w = await writer.run({
      durationMs: o.latencySeconds * 1000,
      ...(ph.rate ? { rate: ph.rate } : {}),
    });
    written = addCounts(written, w.counts);
    const total = kafkaMessagesFor(written);
    await follow(
      'latency phase (Kafka)',
      () => topicMessages(ctx.admin, d.topic(r)),
      total,
      meter,
      problems(d),
      {
        timeoutMs: 900_000,
        intervalMs: 250,
      },
    );
    await follow(
      'latency phase (peer)',
      () => groupPosition(ctx.admin, d.sinkGroup(r), d.topic(r)),
      total,
      meter,
      problems(d),
      { timeoutMs: 900_000, intervalMs: 250 },
    );
    const lat = await peerLatency(r.peerUrl, d.syncedColumn, w.startedAt, w.endedAt);
    const thirds = await peerLatencyThirds(r.peerUrl, d.syncedColumn, w.startedAt, w.endedAt);
    const trend = lagTrend(thirds.p50, thirds.rows, w.seconds);
    const histAfter = await publishHist();
    const pub = histBefore && histAfter ? diffHistogram(histAfter, histBefore) : undefined;
    const applyAfter = await applyHist();
    const apply = applyBefore && applyAfter ? diffHistogram(applyAfter, applyBefore) : undefined;
    const stages = stageQuantiles(stagesBefore, await stageHists());
    latency.push({
      ...(pub
        ? { publishP50: histogramQuantileMs(pub, 0.5), publishP99: histogramQuantileMs(pub, 0.99) }
        : {}),
      ...(apply
        ? { applyP50: histogramQuantileMs(apply, 0.5), applyP99: histogramQuantileMs(apply, 0.99) }
        : {}),
      ...(stages ? { stages } : {}),
      label: ph.label,
      targetRate: ph.rate,
      writtenRate: w.events / w.seconds,
      events: w.events,
      cpuSeconds: m.used(),
      trend,
      ...lat,
    });
    ctx.say(
      `  latency ${ph.label}: wrote ${Math.round(w.events / w.seconds)}/s, p50 ${lat.p50?.toFixed(1)} p95 ${lat.p95?.toFixed(1)} p99 ${lat.p99?.toFixed(1)} max ${lat.max?.toFixed(1)} ms (${lat.rows} rows)` +
        `; p50 by third ${trend.thirdsP50.map((x) => x?.toFixed(0) ?? '-').join(' / ')} ms (lag ${trend.growthMsPerS ?? '-'} ms/s)` +
        (pub
          ? `; commit -> Kafka ack p50 <= ${histogramQuantileMs(pub, 0.5)} p99 <= ${histogramQuantileMs(pub, 0.99)} ms`
          : '') +
        (apply
          ? `; peer transaction p50 <= ${histogramQuantileMs(apply, 0.5)} p99 <= ${histogramQuantileMs(apply, 0.99)} ms (${apply.count})`
          : '') +
        (stages
          ? `; consumer stages p50/p99 <= ms: ${Object.entries(stages)
              .map(([k, v]) => `${k} ${v.p50}/${v.p99}`)
              .join(', ')}`
          : ''),
    );
  }
  return { latency, written };
}

const STAGES = ['kafka-wait', 'source-to-loop', 'decode', 'apply', 'offset-commit'] as const;

/** The consumer's stage histograms (pgcdc_consumer_stage_seconds), one per stage. */
async function consumerStages(url: string | undefined) {
  if (!url) return undefined;
  const all = await Promise.all(
    STAGES.map((st) => scrapeHistogram(url, 'pgcdc_consumer_stage_seconds', `stage="${st}"`)),
  );
  return all.every((h) => h !== undefined) ? all : undefined;
}

function stageQuantiles(
  before: HistogramSnapshot[] | undefined,
  after: HistogramSnapshot[] | undefined,
): LatencyResult['stages'] {
  if (!before || !after) return undefined;
  return Object.fromEntries(
    STAGES.map((st, i) => {
      const h = diffHistogram(after[i]!, before[i]!);
      return [st, { p50: histogramQuantileMs(h, 0.5), p99: histogramQuantileMs(h, 0.99) }];
    }),
  );
}
