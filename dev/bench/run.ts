// The benchmark: for each pipeline under test (ours, and with --vs debezium Debezium on Kafka
// Connect) the same seeded workload on fresh databases, slots and topics, in rounds:
//   1. source throughput, 2. sink throughput, 3. (last round) end-to-end latency at fixed rates
//      and at saturation, 4. (ours) webhook deliveries/s: one streaming round (stream-round.ts);
//   5. (ours) the unique-swap burst and the whole pipeline's start-up (swap-phase.ts);
//   6. snapshot throughput of a pre-filled table, into Kafka and into the peer (snapshot-round.ts).
// Every save evaluates the goals from the result so far (goals.ts).
// Raw baselines of the same workload: pg_recvlogical, Kafka ProducerPerformance, multi-row upsert
// (baseline-phases.ts). CPU seconds (utime+stime from /proc) of the measured processes over the
// measured interval, and their peak RSS (VmHWM). Noisy machine: rounds are repeated and interleaved
// across pipelines, medians reported, load printed. This file starts the stack and the pipelines,
// runs the phases in order and saves the result (JSON and markdown) after each one.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stackSettingsFromEnv, type StackSettings, type StackUrls } from '../stack/settings.ts';
import { stackDown, stackUp } from '../stack/stack.ts';
import { createKafkajsFactory } from '../../pipeline/kafka/kafkajs.ts';
import { createLogger } from '../../pipeline/observability/logger.ts';
import type { BenchContext } from './context.ts';
import { DebeziumDriver } from './debezium-driver.ts';
import type { PipelineDriver } from './driver.ts';
import { installKafkaTools } from './install.ts';
import { PgcdcDriver } from './pgcdc-driver.ts';
import { loadAverage } from './proc.ts';
import { renderReport } from './report.ts';
import type { BenchOptions, BenchResult } from './result.ts';
import { compareSwaps } from './sink-phases.ts';
import { snapshotRound } from './snapshot-round.ts';
import { renderSourceAb, sourceAbPhases } from './source-ab.ts';
import { streamRound } from './stream-round.ts';
import { swapBurstPhase } from './swap-phase.ts';
import { evaluateGoals } from './goals.ts';
import { tablesRound } from './tables-phase.ts';
import { reconcilePhase } from './reconcile-phase.ts';

function machine(): Record<string, string | number> {
  const cmd = (c: string, args: string[]) => {
    const r = spawnSync(c, args, { encoding: 'utf8' });
    return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
  };
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: os.release(),
    node: process.version,
    java: cmd('java', ['-version']).split('\n')[0] ?? '',
  };
}

export class Bench {
  private readonly settings: StackSettings;
  private readonly runId = `b${Date.now().toString(36)}`;
  private readonly result: BenchResult;

  constructor(
    private readonly opts: BenchOptions,
    private readonly say: (m: string) => void,
  ) {
    this.settings = stackSettingsFromEnv(process.env);
    const options: Omit<BenchOptions, 'outDir'> & { outDir?: string } = { ...opts };
    delete options.outDir;
    this.result = {
      label: opts.label,
      startedAt: new Date().toISOString(),
      finishedAt: '',
      machine: machine(),
      load: { start: loadAverage(), end: [0, 0, 0] },
      options,
      workloadRowBytes: undefined,
      baselines: { errors: [] },
      pipelines: [],
    };
  }

  private get dir(): string {
    return path.join(this.opts.outDir, this.runId);
  }

  async run(): Promise<BenchResult> {
    mkdirSync(this.dir, { recursive: true });
    this.say(`results and logs: ${this.dir}`);
    const up = await stackUp(this.settings, (m) => this.say(m));
    try {
      return await this.measure(up.urls);
    } finally {
      if (!this.opts.keepStack && up.started.length > 0) {
        this.say(`stopping the stack parts this run started: ${up.started.join(', ')}`);
        await stackDown(this.settings, up.started);
      }
    }
  }

  private async measure(urls: StackUrls): Promise<BenchResult> {
    const kafka = createKafkajsFactory({
      brokers: urls.kafkaBrokers,
      clientId: 'pgcdc-bench',
      logger: createLogger({ level: 'error' }),
    });
    const admin = kafka.admin();
    await admin.connect();
    const toolsLibs = this.opts.baselines
      ? await installKafkaTools(this.settings, (m) => this.say(m))
      : undefined;
    const ctx: BenchContext = {
      opts: this.opts,
      settings: this.settings,
      urls,
      kafka,
      admin,
      runId: this.runId,
      dir: this.dir,
      result: this.result,
      toolsLibs,
      say: this.say,
    };
    const drivers: PipelineDriver[] = [];
    try {
      if (this.opts.only === 'reconcile') {
        await this.reconcilePhase(urls);
        return this.result;
      }
      if (this.opts.only !== 'debezium') drivers.push(this.pgcdcDriver(urls));
      // another checkout's pgcdc, through the same rounds (interleaved): a before/after in one run
      if (this.opts.compareTree && this.opts.only !== 'debezium')
        drivers.push(this.pgcdcDriver(urls, { root: path.resolve(this.opts.compareTree), name: 'compared' }));
      if (this.opts.sourceOnly) {
        const res = await sourceAbPhases(ctx, drivers);
        this.say(`producer side:\n${renderSourceAb(res, this.opts.events)}`);
        return this.result;
      }
      if (this.opts.vs === 'debezium' || this.opts.only === 'debezium') {
        const debezium = new DebeziumDriver({
          settings: this.settings,
          urls,
          dir: this.dir,
          log: (m) => this.say(m),
        });
        await debezium.start();
        drivers.push(debezium);
      }
      for (const d of drivers)
        this.result.pipelines.push({
          name: d.name,
          description: d.describe(),
          rounds: [],
          peakRssMb: {},
          errors: [],
        });
      await this.phases(ctx, drivers);
      for (const [i, d] of drivers.entries()) this.result.pipelines[i]!.peakRssMb = d.peakRss();
      if (this.opts.reconcileRows) await this.reconcilePhase(urls);
    } finally {
      for (const d of drivers) await d.close().catch(() => undefined);
      await admin.disconnect().catch(() => undefined);
    }
    this.result.finishedAt = new Date().toISOString();
    this.result.load.end = loadAverage();
    this.save();
    return this.result;
  }

  /** The streaming rounds, then the snapshot phase; a failed one is recorded and the next one runs. */
  private async phases(ctx: BenchContext, drivers: PipelineDriver[]): Promise<void> {
    // rounds interleaved across pipelines, so slow phases of the shared machine hit both alike
    for (let n = 1; n <= this.opts.rounds; n++) {
      // with --every-round, the pipelines take turns going first (before/after pairs alternate)
      const order = [...drivers.entries()];
      if (this.opts.everyRound && n % 2 === 0) order.reverse();
      for (const [i, d] of order) {
        const p = this.result.pipelines[i]!;
        try {
          p.rounds.push(await streamRound(ctx, d, n, n === this.opts.rounds, i === 0));
        } catch (err) {
          const msg = `round ${n}: ${(err as Error).message}`;
          p.errors.push(msg);
          this.say(`${d.name} ${msg}`);
        }
        this.save();
      }
    }
    if ((this.opts.tables ?? 1) > 1 && this.opts.only !== 'debezium') await this.tablesPhase(ctx);
    const cmp = this.opts.compare;
    if (cmp?.swaps && this.opts.only !== 'debezium') {
      try {
        (this.result.compare ??= {}).swaps = await compareSwaps(ctx, cmp.variants, cmp.reps);
      } catch (err) {
        this.result.baselines.errors.push(`unique swaps: ${(err as Error).message}`);
        this.say(`unique swaps: ${(err as Error).message}`);
      }
      this.save();
    }
    const swapReps = this.opts.swapReps ?? 0;
    if (swapReps > 0 && this.opts.only !== 'debezium') {
      this.result.swaps = await swapBurstPhase(ctx, swapReps);
      this.save();
    }
    if (this.opts.snapshotRows > 0) {
      for (const [i, d] of drivers.entries()) {
        const p = this.result.pipelines[i]!;
        try {
          p.snapshot = await snapshotRound(ctx, d);
        } catch (err) {
          p.errors.push(`snapshot: ${(err as Error).message}`);
          this.say(`${d.name} snapshot: ${(err as Error).message}`);
        }
        this.save();
      }
    }
  }

  /** --reconcile <rows>: reconcile's pass over two equal tables beside the raw SQL hash scans */
  private async reconcilePhase(urls: StackUrls): Promise<void> {
    const rows = this.opts.reconcileRows ?? 100_000;
    this.say(`reconcile phase: ${rows} rows, no drift`);
    try {
      this.result.reconcile = await reconcilePhase(urls.adminUrl, rows);
    } catch (err) {
      this.result.baselines.errors.push(`reconcile: ${(err as Error).message}`);
      this.say(`reconcile: ${(err as Error).message}`);
    }
    this.result.finishedAt = new Date().toISOString();
    this.result.load.end = loadAverage();
    this.save();
  }

  /** --tables 3: the same changes over users, groups and memberships, after the one-table rounds */
  private async tablesPhase(ctx: BenchContext): Promise<void> {
    for (let n = 1; n <= this.opts.rounds; n++) {
      try {
        (this.result.tables ??= []).push(await tablesRound(ctx, n));
      } catch (err) {
        this.result.baselines.errors.push(`3 tables round ${n}: ${(err as Error).message}`);
        this.say(`3 tables round ${n}: ${(err as Error).message}`);
      }
      this.save();
    }
  }

  private pgcdcDriver(urls: StackUrls, other?: { root: string; name: string }): PgcdcDriver {
    return new PgcdcDriver({
      urls,
      ...other,
      dir: this.dir,
      ...(this.opts.producer ? { producer: this.opts.producer } : {}),
      ...(this.opts.profile ? { profileDir: path.join(this.dir, 'profiles') } : {}),
      ...(this.opts.snapshotBatchSize ? { snapshotBatchSize: this.opts.snapshotBatchSize } : {}),
    });
  }

  save(): string {
    this.result.goals = evaluateGoals(this.result);
    const file = path.join(this.dir, 'result.json');
    writeFileSync(file, JSON.stringify(this.result, null, 2));
    writeFileSync(path.join(this.dir, 'result.md'), renderReport(this.result));
    writeFileSync(path.join(this.opts.outDir, 'latest.json'), JSON.stringify(this.result, null, 2));
    writeFileSync(path.join(this.opts.outDir, 'latest.md'), renderReport(this.result));
    return file;
  }
}
