// The producer-side benchmark (`npm run bench -- --source-only`), for before/after measurements of
// the producer: per round and per pipeline, on fresh databases, slot and topics,
//   1. source: N changes written while the producer is stopped, then `pgcdc produce` started;
//      start-up (process start -> first message in Kafka), events/s from the first message until
//      all are in Kafka, CPU seconds per 100k events over that interval, peak RSS;
//   2. snapshot: a pre-filled table fed into Kafka by `pgcdc produce` alone (no sink competing
//      for the CPU); rows/s from the first message to the last, CPU per 100k rows;
//   3. once per round, Kafka's ProducerPerformance (acks=all, records of our mean size): the raw
//      produce baseline both figures are divided by; and pg_recvlogical decoding the same changes
//      from a second slot (after the producer stopped): how fast PostgreSQL alone hands them out.
// With --profile, the V8 profiles of the producer are summarised per pipeline and phase (stage
// shares of the busy time, idle share: profile-summary.ts) into profiles.md.
// With --compare-tree <dir> a second pgcdc (another checkout, e.g. `git worktree add` of the commit
// before a change) runs the same rounds, interleaved and in alternating order, so each before/after
// pair is measured side by side in one run; medians over rounds. The table is printed and saved as
// source-ab.md / source-ab.json in the run's folder.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { kafkaBaselines, recvlogicalBaseline } from './baseline-phases.ts';
import { cleanupRound, problems, roundFor, type BenchContext } from './context.ts';
import type { PipelineDriver, Round } from './driver.ts';
import { createDatabase, prepareSlots, topicMessages, withPg } from './env.ts';
import { follow, type Follow } from './follow.ts';
import { renderProfileGroups } from './profile-summary.ts';
import { CpuMeter, cpuSeconds, loadAverage } from './proc.ts';
import { kafkaPaths } from '../stack/kafka.ts';
import { readPid } from '../stack/process.ts';
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
  /**
   * CPU seconds per 100k of the servers over the phase (process start to the last message): the
   * walsender decoding the slot for the producer, and the Kafka broker; with the producer's, they
   * show how the 2 cores were shared (what is left for the producer)
   */
  walsenderCpuPer100k?: number | undefined;
  brokerCpuPer100k?: number | undefined;
  /** seconds of the phase (process start to the last message) */
  phaseSeconds?: number | undefined;
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
  /** pg_recvlogical events/s over the same changes, one per round */
  recvlogical: number[];
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

/** CPU seconds of the servers beside the producer: the slot's walsender (while it lives) and the broker. */
async function serverCpu(
  ctx: BenchContext,
  r: Round,
): Promise<{ walsender?: number | undefined; broker?: number | undefined }> {
  const pid = await withPg(r.sourceUrl, async (c) => {
    const q = await c.query<{ pid: number | null }>(
      'SELECT active_pid AS pid FROM pg_replication_slots WHERE slot_name = $1',
      [r.slot],
    );
    return q.rows[0]?.pid ?? undefined;
  }).catch(() => undefined);
  const broker = readPid(kafkaPaths(ctx.settings).pidFile);
  return {
    ...(pid ? { walsender: cpuSeconds(pid) } : {}),
    ...(broker ? { broker: cpuSeconds(broker) } : {}),
  };
}

/** The servers' share of a phase, per 100k units, added to its figure. */
function addServerCpu(
  fig: ProducerFigure,
  before: { broker?: number | undefined },
  after: { walsender?: number | undefined; broker?: number | undefined },
  units: number,
  seconds: number,
): void {
  const per100k = (x: number) => Math.round((x / units) * 100_000 * 100) / 100;
  if (after.walsender !== undefined) fig.walsenderCpuPer100k = per100k(after.walsender);
  if (after.broker !== undefined && before.broker !== undefined)
    fig.brokerCpuPer100k = per100k(after.broker - before.broker);
  fig.phaseSeconds = Math.round(seconds * 100) / 100;
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
  const rawSlot = `${r.slot}_raw`;
  await prepareSlots(r.sourceUrl, r.publication, withBaseline ? [r.slot, rawSlot] : [r.slot]);
  const writer = new LoadWriter(r.sourceUrl, ctx.opts.workload, ctx.opts.writers);
  await writer.open();
  const extra: string[] = [];
  try {
    const pre = await writer.run({ events: ctx.opts.events });
    const expected = kafkaMessagesFor(pre.counts);
    const t0 = Date.now();
    const cpu0 = await serverCpu(ctx, r);
    await d.startSource(r);
    const f = await follow(
      'source catch-up',
      () => topicMessages(ctx.admin, d.topic(r)),
      expected,
      () => new CpuMeter(d.processes()),
      problems(d),
      { timeoutMs: 900_000, intervalMs: 50 },
    );
    const cpu1 = await serverCpu(ctx, r); // the walsender lives as long as the producer
    await d.stopSource();
    const fig = figureOf(f, t0, pre.events, d);
    addServerCpu(fig, cpu0, cpu1, pre.events, ((f.points.at(-1)?.t ?? t0) - t0) / 1000);
    // events/s (a delete is one event and two messages)
    if (fig.rate !== undefined) fig.rate = (fig.rate * pre.events) / expected;
    if (withBaseline) {
      const before = ctx.result.baselines.recvlogical?.length ?? 0;
      await recvlogicalBaseline(ctx, r, rawSlot, pre.endLsn, pre.events);
      const rl = ctx.result.baselines.recvlogical?.[before];
      if (rl) res.recvlogical.push(rl.rate);
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
    const cpu0 = await serverCpu(ctx, r);
    await d.startSource(r);
    const f = await follow(
      'snapshot into Kafka',
      () => topicMessages(ctx.admin, d.topic(r)),
      rows,
      () => new CpuMeter(d.processes()),
      problems(d),
      { timeoutMs: 1_800_000, intervalMs: 50 },
    );
    const cpu1 = await serverCpu(ctx, r);
    await d.stopSource();
    const fig = figureOf(f, t0, rows, d);
    addServerCpu(fig, cpu0, cpu1, rows, ((f.points.at(-1)?.t ?? t0) - t0) / 1000);
    return fig;
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
    recvlogical: [],
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
  if (ctx.opts.profile) writeProfiles(ctx, drivers);
  return res;
}

/** profiles.md: the producer's profiles summarised per pipeline and phase (profile-summary.ts). */
function writeProfiles(ctx: BenchContext, drivers: PipelineDriver[]): void {
  const groups = drivers.flatMap((d) => {
    const tag = `_${d.name.slice(0, 3)}_`; // roundFor's id: bench_<run>_<pipeline>_<phase><n>p<i>
    return [
      { title: `${d.name}: source catch-up`, match: new RegExp(`${tag}s\\d+p\\d+-produce$`) },
      { title: `${d.name}: snapshot`, match: new RegExp(`${tag}n\\d+p\\d+-produce$`) },
    ];
  });
  const text = renderProfileGroups(path.join(ctx.dir, 'profiles'), groups);
  if (!text) return;
  writeFileSync(path.join(ctx.dir, 'profiles.md'), text);
  ctx.say(`profile summary: ${path.join(ctx.dir, 'profiles.md')}`);
}

/** Medians per pipeline next to the raw produce baseline, and every round. */
export function renderSourceAb(res: SourceAbResult, events: number): string {
  const base = median(res.kafkaBaseline);
  const recv = median(res.recvlogical);
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
      ratio(src, recv),
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
    `Producer side, ${events} changes per source round, medians of ${Math.max(...res.pipelines.map((p) => res.rounds.filter((r) => r.pipeline === p).length))} round(s); raw baseline: Kafka ProducerPerformance ${fmt(base)} records/s of ${fmt(res.recordBytes)} bytes (acks=all; median of ${res.kafkaBaseline.length}); pg_recvlogical over the same changes ${fmt(recv)} events/s (median of ${res.recvlogical.length}).`,
    '',
    markdownTable(
      [
        'pipeline',
        'source events/s',
        '/ raw produce',
        '/ pg_recvlogical',
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
        'walsender / broker CPU s / 100k (source; snapshot)',
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
        `${fmt(r.source?.walsenderCpuPer100k)} / ${fmt(r.source?.brokerCpuPer100k)}; ${fmt(r.snapshot?.walsenderCpuPer100k)} / ${fmt(r.snapshot?.brokerCpuPer100k)}`,
        r.load.join(' '),
      ]),
    ),
    ...(res.errors.length > 0 ? ['', 'Errors:', ...res.errors.map((e) => `- ${e}`)] : []),
  ];
  return `${out.join('\n')}\n`;
}
