// The producer-side benchmark (`npm run bench -- --source-only`), for before/after measurements of
// the producer: per round and per pipeline, on fresh databases, slot and topics,
//   1. source: N changes written while the producer is stopped, then `pgcdc produce` started;
//      start-up (process start -> first message in Kafka), events/s from the first message until
//      all are in Kafka, CPU seconds per 100k events over that interval, peak RSS;
//   2. snapshot: a pre-filled table fed into Kafka by `pgcdc produce` alone (no sink competing
//      for the CPU); rows/s from the first message to the last, CPU per 100k rows;
//   3. once per round, Kafka's ProducerPerformance (acks=all, records of our mean size): the raw
//      produce baseline both figures are divided by.
// With --compare-tree <dir> a second pgcdc (another checkout, e.g. `git worktree add` of the commit
// before a change) runs the same rounds, interleaved and in alternating order, so each before/after
// pair is measured side by side in one run; medians over rounds. The table is printed and saved as
// source-ab.md / source-ab.json in the run's folder.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { kafkaBaselines } from './baseline-phases.ts';
import { cleanupRound, problems, roundFor, type BenchContext } from './context.ts';
import type { PipelineDriver } from './driver.ts';
import { createDatabase, prepareSlots, topicMessages, withPg } from './env.ts';
import { follow, type Follow } from './follow.ts';
import { CpuMeter, loadAverage } from './proc.ts';
import { snapshotFillSql } from './snapshot-round.ts';
import { fmt, markdownTable, median, ratio } from './stats.ts';
import { kafkaMessagesFor } from './workload.ts';
import { LoadWriter } from './writer.ts';

/** One producer phase of one round. */
export interface ProducerFigure {
  /** events (source) or rows (snapshot) per second into Kafka, start-up excluded */
  rate: number | undefined;
  /** process start -> first message in Kafka, ms */
  startupMs: number | undefined;
  cpuPer100k: number | undefined;
  /**
   * CPU seconds from process start to the last message, per 100k: start-up included, but immune
   * to a late first poll on a loaded machine (which shortens the interval cpuPer100k is taken over)
   */
  cpuTotalPer100k: number | undefined;
  peakRssMb: number | undefined;
}

export interface SourceAbRound {
  round: number;
  pipeline: string;
  source?: ProducerFigure;
  snapshot?: ProducerFigure;
  load: number[];
}

export interface SourceAbResult {
  pipelines: string[];
  rounds: SourceAbRound[];
  /** ProducerPerformance records/s, one per round */
  kafkaBaseline: number[];
  recordBytes: number | undefined;
  errors: string[];
}

/** The figure of a followed producer phase started at `t0` (ms since epoch). */
function figureOf(f: Follow, t0: number, units: number, d: PipelineDriver): ProducerFigure {
  const first = f.points.find((p) => p.done > 0);
  const last = f.points.at(-1);
  const rss = Object.entries(d.peakRss()).find(([name]) => name.includes('produce'))?.[1];
  return {
    rate: f.rate,
    startupMs: first ? first.t - t0 : undefined,
    cpuPer100k: f.cpu === undefined ? undefined : Math.round((f.cpu / units) * 100_000 * 100) / 100,
    cpuTotalPer100k: last ? Math.round((last.cpu / units) * 100_000 * 100) / 100 : undefined,
    peakRssMb: rss,
  };
}

/** Source throughput of one pipeline: written while stopped, then the producer started. */
async function sourcePhase(
  ctx: BenchContext,
  d: PipelineDriver,
  n: number,
  withBaseline: boolean,
  res: SourceAbResult,
): Promise<ProducerFigure> {
  const i = res.pipelines.indexOf(d.name);
  const r = roundFor(ctx, d, `s${n}p${i}`, false);
  await createDatabase(r.adminUrl, r.sourceDb, true);
  await createDatabase(r.adminUrl, r.peerDb, false);
  await prepareSlots(r.sourceUrl, r.publication, [r.slot]);
  const writer = new LoadWriter(r.sourceUrl, ctx.opts.workload, ctx.opts.writers);
  await writer.open();
  const extra: string[] = [];
  try {
    const pre = await writer.run({ events: ctx.opts.events });
    const expected = kafkaMessagesFor(pre.counts);
    const t0 = Date.now();
    await d.startSource(r);
    const f = await follow(
      'source catch-up',
      () => topicMessages(ctx.admin, d.topic(r)),
      expected,
      () => new CpuMeter(d.processes()),
      problems(d),
      { timeoutMs: 900_000, intervalMs: 50 },
    );
    await d.stopSource();
    const fig = figureOf(f, t0, pre.events, d);
    // events/s (a delete is one event and two messages)
    if (fig.rate !== undefined) fig.rate = (fig.rate * pre.events) / expected;
    if (withBaseline) {
      await kafkaBaselines(ctx, d, r, expected, extra);
      const perf = ctx.result.baselines.kafkaProducerPerf;
      if (perf) res.kafkaBaseline.push(perf.rate);
      res.recordBytes = ctx.result.workloadRowBytes;
    }
    return fig;
  } finally {
    await writer.close();
    await cleanupRound(ctx, d, r, [...extra, `${r.topicPrefix}.status`]);
  }
}

/** Snapshot of a pre-filled table into Kafka by the producer alone. */
async function snapshotPhase(
  ctx: BenchContext,
  d: PipelineDriver,
  n: number,
  i: number,
): Promise<ProducerFigure> {
  const r = roundFor(ctx, d, `n${n}p${i}`, true);
  const rows = ctx.opts.snapshotRows;
  await createDatabase(r.adminUrl, r.sourceDb, true);
  await createDatabase(r.adminUrl, r.peerDb, false);
  try {
    await withPg(r.sourceUrl, (c) => c.query(snapshotFillSql(rows, ctx.opts.workload)));
    await withPg(r.sourceUrl, (c) => c.query('VACUUM ANALYZE public.users'));
    const t0 = Date.now();
    await d.startSource(r);
    const f = await follow(
      'snapshot into Kafka',
      () => topicMessages(ctx.admin, d.topic(r)),
      rows,
      () => new CpuMeter(d.processes()),
      problems(d),
      { timeoutMs: 1_800_000, intervalMs: 50 },
    );
    await d.stopSource();
    return figureOf(f, t0, rows, d);
  } finally {
    await cleanupRound(ctx, d, r, [`${r.topicPrefix}.status`]);
  }
}

/** The rounds: pipelines interleaved, their order alternating from one round to the next. */
export async function sourceAbPhases(ctx: BenchContext, drivers: PipelineDriver[]): Promise<SourceAbResult> {
  const res: SourceAbResult = {
    pipelines: drivers.map((d) => d.name),
    rounds: [],
    kafkaBaseline: [],
    recordBytes: undefined,
    errors: [],
  };
  const save = () => {
    writeFileSync(path.join(ctx.dir, 'source-ab.json'), JSON.stringify(res, null, 2));
    writeFileSync(path.join(ctx.dir, 'source-ab.md'), renderSourceAb(res, ctx.opts.events));
  };
  for (let n = 1; n <= ctx.opts.rounds; n++) {
    const order = n % 2 === 1 ? drivers : [...drivers].reverse();
    for (const [k, d] of order.entries()) {
      const i = drivers.indexOf(d);
      ctx.say(`${d.name} source round ${n}/${ctx.opts.rounds}: load ${loadAverage().join(' ')}`);
      const round: SourceAbRound = { round: n, pipeline: d.name, load: loadAverage() };
      try {
        round.source = await sourcePhase(ctx, d, n, ctx.opts.baselines && k === 0, res);
        ctx.say(
          `  source: ${fmt(round.source.rate)} events/s, start-up ${fmt(round.source.startupMs)} ms, ${fmt(round.source.cpuPer100k)} CPU s / 100k`,
        );
        if (ctx.opts.snapshotRows > 0) {
          round.snapshot = await snapshotPhase(ctx, d, n, i);
          ctx.say(
            `  snapshot: ${fmt(round.snapshot.rate)} rows/s, ${fmt(round.snapshot.cpuPer100k)} CPU s / 100k`,
          );
        }
      } catch (err) {
        res.errors.push(`${d.name} round ${n}: ${(err as Error).message}`);
        ctx.say(`${d.name} round ${n}: ${(err as Error).message}`);
      }
      res.rounds.push(round);
      save();
    }
  }
  return res;
}

/** Medians per pipeline next to the raw produce baseline, and every round. */
export function renderSourceAb(res: SourceAbResult, events: number): string {
  const base = median(res.kafkaBaseline);
  const med = (p: string, pick: (r: SourceAbRound) => number | undefined) =>
    median(
      res.rounds
        .filter((r) => r.pipeline === p)
        .map(pick)
        .filter((x): x is number => x !== undefined),
    );
  const rows = res.pipelines.map((p) => {
    const src = med(p, (r) => r.source?.rate);
    const snap = med(p, (r) => r.snapshot?.rate);
    return [
      p,
      fmt(src),
      ratio(src, base),
      fmt(snap),
      ratio(snap, base),
      fmt(med(p, (r) => r.source?.cpuPer100k)),
      fmt(med(p, (r) => r.source?.cpuTotalPer100k)),
      fmt(med(p, (r) => r.snapshot?.cpuPer100k)),
      fmt(med(p, (r) => r.snapshot?.cpuTotalPer100k)),
      fmt(med(p, (r) => r.source?.startupMs)),
      fmt(med(p, (r) => Math.max(r.source?.peakRssMb ?? 0, r.snapshot?.peakRssMb ?? 0) || undefined)),
    ];
  });
  const out = [
    `Producer side, ${events} changes per source round, medians of ${Math.max(...res.pipelines.map((p) => res.rounds.filter((r) => r.pipeline === p).length))} round(s); raw baseline: Kafka ProducerPerformance ${fmt(base)} records/s of ${fmt(res.recordBytes)} bytes (acks=all; median of ${res.kafkaBaseline.length}).`,
    '',
    markdownTable(
      [
        'pipeline',
        'source events/s',
        '/ raw produce',
        'snapshot rows/s',
        '/ raw produce',
        'source CPU s / 100k',
        'same, from process start',
        'snapshot CPU s / 100k',
        'same, from process start',
        'start-up ms',
        'peak RSS MiB',
      ],
      rows,
    ),
    '',
    markdownTable(
      [
        'round',
        'pipeline',
        'source ev/s',
        'start-up ms',
        'CPU s / 100k',
        'snapshot rows/s',
        'CPU s / 100k',
        'load',
      ],
      res.rounds.map((r) => [
        String(r.round),
        r.pipeline,
        fmt(r.source?.rate),
        fmt(r.source?.startupMs),
        `${fmt(r.source?.cpuPer100k)} (${fmt(r.source?.cpuTotalPer100k)})`,
        fmt(r.snapshot?.rate),
        `${fmt(r.snapshot?.cpuPer100k)} (${fmt(r.snapshot?.cpuTotalPer100k)})`,
        r.load.join(' '),
      ]),
    ),
    ...(res.errors.length > 0 ? ['', 'Errors:', ...res.errors.map((e) => `- ${e}`)] : []),
  ];
  return `${out.join('\n')}\n`;
}
