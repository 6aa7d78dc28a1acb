// dev/bench/goals.ts: every goal of issue 22 (and the MariaDB goals of issue 17) is evaluated from
// a bench result as reached, not reached, or not measured with the reason: a pipeline not in the
// run, no round finished, a phase skipped by an option, a failed baseline or phase. The lag trend
// of a latency phase (stats.ts lagTrend) and the rendered table too.
import { describe, expect, it } from 'vitest';
import { evaluateGoals, GOALS, ISSUE_22_BASELINE, renderGoals } from '../../../dev/bench/goals.ts';
import { renderReport } from '../../../dev/bench/report.ts';
import {
  measured,
  type BenchResult,
  type GoalRow,
  type LatencyResult,
  type PipelineResult,
  type RoundResult,
} from '../../../dev/bench/result.ts';
import { lagTrend } from '../../../dev/bench/stats.ts';
import { DEFAULT_WORKLOAD } from '../../../dev/bench/workload.ts';

/** A Measured of `rate` events/s with `cpuPer100k` CPU s per 100k events (over 100k events). */
const m = (rate: number, cpuPer100k = 5) => measured(rate, 1, cpuPer100k, 100_000);

function latency(label: string, rate: number | undefined, p99: number, growth?: number): LatencyResult {
  return {
    label,
    targetRate: rate,
    writtenRate: rate ?? 4_000,
    events: 15_000,
    cpuSeconds: 1,
    rows: 10_000,
    p50: p99 / 3,
    p95: p99 / 2,
    p99,
    max: p99 * 2,
    ...(growth !== undefined
      ? { trend: lagTrend([100, 100 + growth * 5, 100 + growth * 10], [1, 1, 1], 15) }
      : {}),
  };
}

function round(n: number, o: Partial<RoundResult> = {}): RoundResult {
  return {
    round: n,
    write: { events: 1000, counts: { c: 1000, u: 0, d: 0 }, rate: 1 },
    source: m(13_000, 7.6),
    sink: m(13_000, 7.4),
    load: [1, 1, 1],
    startup: { sourceMs: 1200, sinkMs: 3400 },
    ...o,
  };
}

function pipeline(name: string, rounds: RoundResult[], o: Partial<PipelineResult> = {}): PipelineResult {
  return { name, description: name, rounds, peakRssMb: {}, errors: [], ...o };
}

/** A full `--vs debezium` run: every phase measured. */
function full(): BenchResult {
  const last = {
    webhook: m(3_800),
    latency: [
      latency('1000/s', 1000, 45),
      latency('5000/s', 5000, 300),
      latency('saturation', undefined, 400, 2),
    ],
  };
  return {
    label: undefined,
    startedAt: '2026-11-30T07:00:00Z',
    finishedAt: '2026-11-30T07:10:00Z',
    machine: { cpus: 2 },
    load: { start: [1, 1, 1], end: [1, 1, 1] },
    options: {
      vs: 'debezium',
      events: 30_000,
      rounds: 3,
      latencySeconds: 15,
      rates: [1000, 5000],
      saturation: true,
      snapshotRows: 20_000,
      webhook: true,
      baselines: true,
      workload: DEFAULT_WORKLOAD,
      writers: 8,
      swapReps: 3,
    },
    workloadRowBytes: 640,
    baselines: {
      kafkaProducerPerf: { seconds: 1, rate: 46_000, recordSize: 640, records: 200_000 },
      rawUpsert: [{ seconds: 1, rate: 9_000 }],
      rawHttp: [{ seconds: 1, rate: 4_800 }],
      errors: [],
    },
    pipelines: [
      pipeline('pgcdc', [round(1), round(2), round(3, last)], {
        snapshot: { rows: 20_000, kafka: m(8_800), peer: m(8_700) },
        peakRssMb: { 'pgcdc produce': 240, 'pgcdc consume': 286, 'pgcdc consume hook': 200 },
      }),
      pipeline(
        'debezium',
        [1, 2, 3].map((n) => round(n, { sink: m(1_000, 40) })),
      ),
    ],
    mysql: {
      sink: m(8_400),
      raw: { rate: 18_000, seconds: 1, note: '' },
      debezium: { ...m(1_700), note: '' },
      latency: { rate: 1000, writtenRate: 998, rows: 10_000, p50: 50, p95: 100, p99: 134, max: 180 },
    },
    swaps: {
      events: 175,
      seconds: [1.5, 1.9, 2.4],
      median: 1.9,
      kafkaSeconds: [0.2, 0.2, 0.2],
      pipelineStartupMs: 4200,
      phaseSeconds: 30,
      errors: [],
    },
  };
}

const goal = (rows: GoalRow[], start: string) => {
  const g = rows.find((r) => r.goal.startsWith(start));
  if (!g) throw new Error(`no goal ${start}`);
  return g;
};

describe('bench goals', () => {
  it('evaluates every goal of a full run, with ratios against the baselines of the same run', () => {
    const g = evaluateGoals(full());
    expect(g.filter((x) => x.block === 'issue 22')).toHaveLength(12);
    expect(g.filter((x) => x.block === 'issue 17')).toHaveLength(3);
    expect(g.every((x) => x.verdict !== 'not measured')).toBe(true);
    expect(goal(g, 'source -> Kafka')).toMatchObject({ ratio: '0.28x', verdict: 'not reached' });
    expect(goal(g, 'snapshot into Kafka')).toMatchObject({ ratio: '0.19x', verdict: 'not reached' });
    expect(goal(g, 'sink >= 1.5x')).toMatchObject({ ratio: '1.44x', verdict: 'not reached' });
    expect(goal(g, 'sink >= 10x')).toMatchObject({ ratio: '13.00x', verdict: 'reached' });
    expect(goal(g, 'e2e p99')).toMatchObject({ ratio: '0.90x', verdict: 'reached' });
    expect(goal(g, "writers' maximum").verdict).toBe('reached');
    expect(goal(g, "writers' maximum").measured).toContain('+2.0 ms/s');
    expect(goal(g, 'webhook')).toMatchObject({ ratio: '0.79x', verdict: 'reached' });
    expect(goal(g, 'source CPU')).toMatchObject({ ratio: '0.76x', verdict: 'not reached' });
    expect(goal(g, 'sink CPU')).toMatchObject({ ratio: '0.64x', verdict: 'reached' });
    expect(goal(g, 'peak RSS')).toMatchObject({ ratio: '1.01x, 1.20x', verdict: 'not reached' });
    expect(goal(g, 'start-up').verdict).toBe('reached');
    expect(goal(g, 'start-up').measured).toMatch(/pipeline 4,200 ms.*producer 1,200 ms.*consumer 3,400 ms/);
    expect(goal(g, 'unique-swap')).toMatchObject({ ratio: '0.95x', verdict: 'reached' });
    expect(goal(g, 'MariaDB sink >= 0.8x')).toMatchObject({ ratio: '0.47x', verdict: 'not reached' });
    expect(goal(g, 'MariaDB sink >= 5x')).toMatchObject({ ratio: '4.94x', verdict: 'not reached' });
    expect(goal(g, 'MariaDB e2e').verdict).toBe('reached');
  });

  it('names the issue baselines for CPU and memory the goals are read against', () => {
    const g = evaluateGoals(full());
    expect(goal(g, 'source CPU').baseline).toContain(
      `${ISSUE_22_BASELINE.sourceCpuPer100k.toFixed(1)} CPU s`,
    );
    expect(goal(g, 'sink CPU').baseline).toContain('11.6');
    expect(goal(g, 'peak RSS').baseline).toBe("produce 237, consume 238 MiB (the issue's)");
  });

  it('says "no Debezium in this run" for the comparisons with Debezium in a default run', () => {
    const res = full();
    res.pipelines = res.pipelines.filter((p) => p.name === 'pgcdc');
    delete res.mysql!.debezium;
    const g = evaluateGoals(res);
    for (const start of ['sink >= 10x', 'MariaDB sink >= 5x'])
      expect(goal(g, start)).toMatchObject({
        verdict: 'not measured',
        why: 'no Debezium in this run (run with --vs debezium)',
      });
    expect(goal(g, 'sink >= 1.5x').verdict).toBe('not reached');
  });

  it('names the option that skipped a phase', () => {
    const res = full();
    Object.assign(res.options, {
      baselines: false,
      webhook: false,
      snapshotRows: 0,
      saturation: false,
      swapReps: 0,
    });
    res.baselines = { errors: [] };
    delete res.pipelines[0]!.snapshot;
    delete res.swaps;
    delete res.mysql;
    const last = res.pipelines[0]!.rounds[2]!;
    delete last.webhook;
    last.latency = last.latency!.filter((l) => l.label !== 'saturation');
    const g = evaluateGoals(res);
    expect(goal(g, 'source -> Kafka').why).toBe('skipped (--no-baselines)');
    expect(goal(g, 'sink >= 1.5x').why).toBe('skipped (--no-baselines)');
    expect(goal(g, 'snapshot into Kafka').why).toBe('skipped (--snapshot-rows 0)');
    expect(goal(g, 'webhook').why).toBe('skipped (--no-webhook)');
    expect(goal(g, "writers' maximum").why).toBe('skipped (--no-saturation)');
    expect(goal(g, 'unique-swap').why).toBe('skipped (--swap-reps 0)');
    expect(goal(g, 'MariaDB sink >= 0.8x').why).toBe('skipped (--no-baselines)');
    expect(goal(g, 'start-up').measured).not.toContain('pipeline');
    expect(goal(g, 'start-up').verdict).toBe('reached');

    const none = full();
    none.options.latencySeconds = 0;
    for (const r of none.pipelines[0]!.rounds) delete r.latency;
    delete none.mysql!.latency;
    const h = evaluateGoals(none);
    for (const start of ['e2e p99', "writers' maximum", 'MariaDB e2e'])
      expect(goal(h, start)).toMatchObject({
        verdict: 'not measured',
        why: 'latency phases skipped (--latency-seconds 0)',
      });
  });

  it('gives the error of a failed baseline or phase as the reason', () => {
    const res = full();
    delete res.baselines.kafkaProducerPerf;
    res.baselines.errors.push('ProducerPerformance: exit 1\nat java...');
    res.swaps = {
      ...res.swaps!,
      seconds: [],
      median: undefined,
      errors: ['unique swaps: the peer did not converge'],
    };
    delete res.pipelines[0]!.snapshot;
    res.pipelines[0]!.errors.push('snapshot: snapshot into Kafka: stuck at 10 of 20000 after 130 s');
    const g = evaluateGoals(res);
    expect(goal(g, 'source -> Kafka')).toMatchObject({
      verdict: 'not measured',
      why: 'ProducerPerformance: exit 1',
    });
    expect(goal(g, 'source -> Kafka').measured).toBe('13,000 events/s');
    expect(goal(g, 'unique-swap')).toMatchObject({
      verdict: 'not measured',
      why: 'unique swaps: the peer did not converge',
    });
    expect(goal(g, 'snapshot into Kafka').why).toMatch(/^snapshot: snapshot into Kafka: stuck/);
  });

  it('reads a failed round: medians of the rest, and the latency phases lost with the last round', () => {
    const res = full();
    const ours = res.pipelines[0]!;
    ours.rounds = ours.rounds.slice(0, 2);
    ours.errors.push('round 3: sink catch-up: pgcdc consume exited');
    const g = evaluateGoals(res);
    expect(goal(g, 'source -> Kafka').measured).toBe('13,000 events/s (median of 2; 1 round(s) failed)');
    expect(goal(g, 'e2e p99')).toMatchObject({
      verdict: 'not measured',
      why: 'the last round (latency phases) failed: round 3: sink catch-up: pgcdc consume exited',
    });
    expect(goal(g, 'webhook')).toMatchObject({
      verdict: 'not measured',
      why: 'the last round failed: round 3: sink catch-up: pgcdc consume exited',
    });
  });

  it('has nothing of ours when no round of ours finished, and says so on every goal of ours', () => {
    const res = full();
    res.pipelines[0] = pipeline('pgcdc', [], { errors: ['round 1: source catch-up: pgcdc produce exited'] });
    delete res.swaps;
    delete res.mysql;
    const g = evaluateGoals(res);
    const why = 'pgcdc: no round finished (round 1: source catch-up: pgcdc produce exited)';
    for (const row of g) expect(row).toMatchObject({ verdict: 'not measured', why });
  });

  it('says pgcdc is not in a --only debezium run', () => {
    const res = full();
    res.pipelines = res.pipelines.filter((p) => p.name !== 'pgcdc');
    delete res.swaps;
    delete res.mysql;
    const g = evaluateGoals(res);
    expect(goal(g, 'sink >= 10x').why).toBe('pgcdc not in this run (--only debezium)');
    expect(goal(g, 'peak RSS').why).toBe('pgcdc not in this run (--only debezium)');
  });

  it("judges the writers' maximum on both p99 and the lag trend", () => {
    const at = (p99: number, growth?: number) => {
      const res = full();
      const last = res.pipelines[0]!.rounds[2]!;
      last.latency = [latency('1000/s', 1000, 45), latency('saturation', undefined, p99, growth)];
      return goal(evaluateGoals(res), "writers' maximum");
    };
    expect(at(400, GOALS.lagGrowthMsPerS).verdict).toBe('reached');
    expect(at(400, GOALS.lagGrowthMsPerS + 5).verdict).toBe('not reached');
    expect(at(400, -3).verdict).toBe('reached');
    expect(at(1000, 0).verdict).toBe('not reached');
    expect(at(1500).verdict).toBe('not reached');
    expect(at(400)).toMatchObject({ verdict: 'not measured', why: 'lag trend not recorded' });
  });

  it('compares the swap burst and the peak RSS with their limits', () => {
    const res = full();
    res.swaps = { ...res.swaps!, seconds: [2.5, 2.6, 3.1], median: 2.6 };
    res.pipelines[0]!.peakRssMb = { 'pgcdc produce': 230, 'pgcdc consume': 249 };
    let g = evaluateGoals(res);
    expect(goal(g, 'unique-swap')).toMatchObject({ ratio: '1.30x', verdict: 'not reached' });
    expect(goal(g, 'peak RSS').verdict).toBe('reached'); // 249 / 238 = 1.046, within 5 %
    res.pipelines[0]!.peakRssMb = { 'pgcdc produce': 230 };
    g = evaluateGoals(res);
    expect(goal(g, 'peak RSS')).toMatchObject({
      verdict: 'not measured',
      why: 'no peak RSS of pgcdc consume',
    });
  });

  it('reports start-up as not measured in a result from before it was recorded', () => {
    const res = full();
    for (const r of res.pipelines[0]!.rounds) delete r.startup;
    delete res.swaps;
    expect(goal(evaluateGoals(res), 'start-up')).toMatchObject({ verdict: 'not measured' });
  });
});

describe('lag trend', () => {
  it('is the growth of the p50 from the first third to the last, per second between their centres', () => {
    // 15 s phase: centres 10 s apart; p50 100 -> 300 ms is +20 ms/s
    expect(lagTrend([100, 200, 300], [10, 10, 10], 15).growthMsPerS).toBe(20);
    expect(lagTrend([300, 100, 290], [10, 10, 10], 15).growthMsPerS).toBe(-1);
    expect(lagTrend([100, 200, undefined], [10, 10, 0], 15).growthMsPerS).toBeUndefined();
    expect(lagTrend([100, 200, 300], [10, 10, 10], 0).growthMsPerS).toBeUndefined();
  });
});

describe('goals in the report', () => {
  it('come first, one table per issue, with the counts of each verdict', () => {
    const res = full();
    res.pipelines = res.pipelines.filter((p) => p.name === 'pgcdc');
    const text = renderGoals(evaluateGoals(res)).join('\n');
    expect(text).toContain('## Goals (issue 22)');
    expect(text).toContain('## Goals of the MariaDB sink (issue 17)');
    expect(text).toMatch(/\| goal +\| measured +\| baseline +\| ratio +\| verdict/);
    expect(text).toContain('not measured: no Debezium in this run (run with --vs debezium)');
    const report = renderReport(res);
    expect(report.indexOf('## Goals (issue 22)')).toBeLessThan(report.indexOf('## Throughput'));
    expect(report).toContain('p50 by third (lag growth)');
  });
});
