// The benchmark's options and results (what `pgcdc-dev bench` measures, saves as JSON and renders
// as markdown), and how one measured interval becomes a figure. Types and pure helpers only: the
// runner (run.ts and its phases) fills them, the report (report.ts) reads them.
import type { RateResult } from './baselines.ts';
import type { LatencySample } from './env.ts';
import type { OpCounts, WorkloadSpec } from './workload.ts';

export interface BenchOptions {
  vs: 'debezium' | undefined;
  /** changes written per throughput round */
  events: number;
  rounds: number;
  /** seconds of each fixed-rate and saturation latency phase (0: no latency phases) */
  latencySeconds: number;
  /** the latency and webhook phases in every round, not only the last (before/after pairs with --compare-tree) */
  everyRound?: boolean;
  rates: number[];
  saturation: boolean;
  snapshotRows: number;
  /** our source.snapshot.batchSize */
  snapshotBatchSize?: number;
  webhook: boolean;
  baselines: boolean;
  workload: WorkloadSpec;
  writers: number;
  producer?: { batchMaxMessages?: number; lingerMs?: number };
  only?: 'pgcdc' | 'debezium' | 'reconcile';
  outDir: string;
  label?: string;
  /** V8 CPU profiles of our processes into <run>/profiles */
  profile?: boolean;
  /** leave the stack parts this run started running (default: stop them at the end) */
  keepStack?: boolean;
  /** only the producer-side phases (source-ab.ts) */
  sourceOnly?: boolean;
  /** a second checkout whose pgcdc runs the same producer rounds, interleaved (source-ab.ts) */
  compareTree?: string;
  /** consumer-side comparison phases (sink-phases.ts): variants, repetitions, which phases */
  compare?: { variants: SinkVariant[]; reps: number; sink: boolean; swaps: boolean };
  /** 3: also rounds of users, groups and memberships in one pipeline (tables-phase.ts); default 1 */
  tables?: number;
  /** the shaping phase (shaping-phase.ts): unmapped, mapped and matched targets, this many times */
  shaping?: { reps: number };
  /** rows of the reconcile phase (reconcile-phase.ts); with only 'reconcile' nothing else runs */
  reconcileRows?: number;
  /** repetitions of the unique-swap burst phase (swap-phase.ts); 0 skips it (older results: absent) */
  swapReps?: number;
}

export interface Measured {
  rate: number | undefined;
  seconds: number | undefined;
  cpuSeconds: number | undefined;
  /** CPU seconds per 100k events */
  cpuPer100k: number | undefined;
}

export interface LatencyResult extends LatencySample {
  label: string;
  /** ours: commit -> Kafka ack from the producer's histogram (bucket upper bounds, ms) */
  publishP50?: number | undefined;
  publishP99?: number | undefined;
  /** ours: duration of one peer transaction (apply) from the consumer's histogram, ms */
  applyP50?: number | undefined;
  applyP99?: number | undefined;
  /** ours: the consumer's stage timings (pgcdc_consumer_stage_seconds), p50 / p99 bucket bounds, ms */
  stages?: Record<string, { p50: number | undefined; p99: number | undefined }>;
  targetRate: number | undefined;
  writtenRate: number;
  events: number;
  cpuSeconds: number;
  /** whether the lag grew over the phase: p50 per third of it (stats.ts lagTrend) */
  trend?: LagTrend;
}

/**
 * The lag over one latency phase: the p50 latency of the rows committed in each third of the
 * phase, and its growth from the first third to the last per second between their centres
 * (2/3 of the phase): a pipeline that applies less than is written shows a positive growth of
 * about 1000 x (1 - applied / written) ms per s.
 */
export interface LagTrend {
  thirdsP50: (number | undefined)[];
  thirdsRows: number[];
  /** ms of p50 latency gained per second of the phase; undefined when a third has no rows */
  growthMsPerS: number | undefined;
}

/** Process start -> first progress of one side of a pipeline, ms (stream-round.ts). */
export interface StartupResult {
  /** producer start -> first message in Kafka (polled every 100 ms; the backlog waits in the slot) */
  sourceMs: number | undefined;
  /** consumer start -> first row applied at the peer (the peer's own stamp; the topic is full) */
  sinkMs: number | undefined;
}

export interface RoundResult {
  round: number;
  write: { events: number; counts: OpCounts; rate: number };
  source: Measured;
  sink: Measured;
  webhook?: Measured;
  latency?: LatencyResult[];
  /** process start -> first message / first row, this round (older results: absent) */
  startup?: StartupResult;
  load: [number, number, number];
}

/** One round of pgcdc with users, groups and memberships in one pipeline (tables-phase.ts). */
export interface TablesRoundResult {
  round: number;
  tables: number;
  write: { events: number; counts: OpCounts; rate: number };
  source: Measured;
  sink: Measured;
  load: [number, number, number];
}

export interface PipelineResult {
  name: string;
  description: string;
  rounds: RoundResult[];
  snapshot?: { rows: number; kafka: Measured; peer: Measured };
  peakRssMb: Record<string, number>;
  errors: string[];
}

export interface BenchResult {
  label: string | undefined;
  startedAt: string;
  finishedAt: string;
  machine: Record<string, string | number>;
  load: { start: [number, number, number]; end: [number, number, number] };
  options: Omit<BenchOptions, 'outDir'>;
  workloadRowBytes: number | undefined;
  baselines: {
    recvlogical?: RateResult[];
    kafkaProducerPerf?: RateResult & { recordSize: number; records: number };
    rawUpsert?: RateResult[];
    /** POSTs of the webhook's request size to the same receiver, same concurrency (undici) */
    rawHttp?: RateResult[];
    errors: string[];
  };
  pipelines: PipelineResult[];
  /** our MariaDB sink and its raw baseline (mysql-phase.ts) */
  mysql?: MysqlBenchResult;
  /** the consumer-side comparison phases (sink-phases.ts) */
  compare?: Partial<CompareResult>;
  /** pgcdc with users, groups and memberships (tables-phase.ts, --tables 3) */
  tables?: TablesRoundResult[];
  /** unmapped vs mapped vs matched targets on one topic (shaping-phase.ts, --shaping) */
  shaping?: ShapingResult;
  /** reconcile's pass beside the raw SQL hash scans (reconcile-phase.ts, --reconcile) */
  reconcile?: ReconcileBenchResult;
  /** the unique-swap burst of the default run and the whole pipeline's start-up (swap-phase.ts) */
  swaps?: SwapBurstResult;
  /** the goals evaluated from this result (goals.ts), written with every save */
  goals?: GoalRow[];
}

/** swap-phase.ts: one pipeline of ours, the burst repeated on fresh rows, medians. */
export interface SwapBurstResult {
  /** events in one burst */
  events: number;
  /** per repetition: seconds from the burst's last source commit until the peer's emails equal the source's */
  seconds: number[];
  median: number | undefined;
  /** per repetition: seconds until Kafka held the whole burst */
  kafkaSeconds: number[];
  /** both processes started at once with rows waiting in the slot: process start -> first row applied, ms */
  pipelineStartupMs: number | undefined;
  /** wall-clock seconds of the whole phase (what it adds to a run) */
  phaseSeconds: number;
  errors: string[];
}

export type GoalVerdict = 'reached' | 'not reached' | 'not measured';

/** One goal of the issue, evaluated from a result (goals.ts). */
export interface GoalRow {
  /** 'issue 22' or 'issue 17' */
  block: string;
  goal: string;
  measured: string;
  baseline: string;
  ratio: string;
  verdict: GoalVerdict;
  /** why not measured, or what the verdict rests on */
  why: string;
}

/** reconcile-phase.ts: rows/s of the reconcile pass and of the raw baseline, measured in one run. */
export interface ReconcileBenchResult {
  rows: number;
  compared: number;
  drift: number;
  baselineRowsPerS: number;
  reconcileRowsPerS: number;
  /** reconcile rows/s / baseline rows/s */
  ratio: number;
  rssGrowthMb: number;
}

/** Sink events/s and CPU per shaped target (shaping-phase.ts): each repetition and the medians. */
export interface ShapingResult {
  events: number;
  variants: { label: string; rates: number[]; median: number | undefined; cpuPer100k: number | undefined }[];
}

/** Our MariaDB sink and its raw baseline (mysql-phase.ts). */
export interface MysqlBenchResult {
  /** median of the runs; mariadbCpuSeconds: the server's CPU over the run */
  sink?: Measured & { mariadbCpuSeconds?: number | undefined };
  sinkRuns?: Measured[];
  raw?: { rate: number; seconds: number; note: string; mariadbCpuSeconds?: number | undefined };
  /** the same sink run from an earlier checkout (PGCDC_BENCH_MYSQL_BEFORE), median and runs */
  before?: Measured & { tree: string; mariadbCpuSeconds?: number | undefined; runs: Measured[] };
  /** end-to-end into MariaDB at a fixed rate */
  latency?: LatencySample & { rate: number; writtenRate: number };
  /** Debezium's JDBC sink into the same MariaDB (debezium-mysql.ts) */
  debezium?: Measured & { note: string; mariadbCpuSeconds?: number | undefined };
}

/** A rate measured over `seconds`, with the CPU seconds spent in it, per 100k events too. */
export function measured(
  rate: number | undefined,
  seconds: number | undefined,
  cpu: number | undefined,
  events: number,
): Measured {
  return {
    rate,
    seconds,
    cpuSeconds: cpu,
    cpuPer100k: cpu === undefined ? undefined : Math.round((cpu / events) * 100_000 * 100) / 100,
  };
}

/** A variant of our peer sink in the comparison phases (sink-phases.ts). */
export interface SinkVariant {
  label: string;
  applyConnections?: number;
  root?: string;
}

export interface CompareResult {
  /** per variant (and `raw upsert`): the rates of each repetition and their median */
  sink: { label: string; rates: number[]; median: number | undefined; cpuPer100k: number | undefined }[];
  swaps: {
    label: string;
    seconds: number[];
    median: number | undefined;
    /** per repetition: seconds from the last source commit until Kafka held the whole burst */
    kafkaSeconds?: number[];
  }[];
}
