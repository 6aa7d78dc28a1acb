// The benchmark: for each pipeline under test (ours, and with --vs debezium Debezium on Kafka
// Connect) the same seeded workload on fresh databases, slots and topics, in rounds:
//   1. source throughput: N changes written while the pipeline is stopped, then its source side
//      started; events/s from the first message in Kafka until all are there (start-up excluded);
//   2. sink throughput: its peer sink started on that full topic; events/s from the first to the
//      last row applied at the peer (the peer's own apply timestamps);
//   3. (last round) end-to-end latency at fixed rates and at saturation: source commit
//      (updated_at = clock_timestamp()) to applied at the peer, per row;
//   4. (ours) webhook deliveries/s of the same topic to a local receiver;
//   5. snapshot throughput of a pre-filled table, into Kafka and into the peer.
// Raw baselines of the same workload: pg_recvlogical, Kafka ProducerPerformance, multi-row upsert.
// CPU seconds (utime+stime from /proc) of the measured processes over the measured interval, and
// their peak RSS (VmHWM). Noisy machine: rounds are repeated, medians reported, load printed.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stackSettingsFromEnv, type StackSettings, type StackUrls } from '../stack/settings.ts';
import { stackDown, stackUp } from '../stack/stack.ts';
import { createKafkajsFactory } from '../../pipeline/kafka/kafkajs.ts';
import type { KafkaAdminPort, KafkaClientFactory } from '../../pipeline/kafka/port.ts';
import { createLogger } from '../../pipeline/observability/logger.ts';
import { kafkaProducerPerfRate, rawUpsertRate, recvlogicalRate, type RateResult } from './baselines.ts';
import { DebeziumDriver } from './debezium-driver.ts';
import type { PipelineDriver, Round } from './driver.ts';
import {
  createDatabase,
  dbUrl,
  deleteTopics,
  dropDatabase,
  groupPosition,
  peerApplyWindow,
  peerLatency,
  prepareSlots,
  tableRows,
  topicMessages,
  withPg,
  type LatencySample,
} from './env.ts';
import { installKafkaTools } from './install.ts';
import { PgcdcDriver } from './pgcdc-driver.ts';
import { CpuMeter, loadAverage } from './proc.ts';
import { startBenchReceiver } from './receiver.ts';
import { renderReport } from './report.ts';
import { diffHistogram, histogramQuantileMs, scrapeHistogram } from './scrape.ts';
import { rateOf, type ProgressPoint } from './stats.ts';
import { eventsIn, kafkaMessagesFor, type OpCounts, type WorkloadSpec } from './workload.ts';
import { LoadWriter } from './writer.ts';

export interface BenchOptions {
  vs: 'debezium' | undefined;
  /** changes written per throughput round */
  events: number;
  rounds: number;
  /** seconds of each fixed-rate and saturation latency phase (0: no latency phases) */
  latencySeconds: number;
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
  only?: 'pgcdc' | 'debezium';
  outDir: string;
  label?: string;
  /** V8 CPU profiles of our processes into <run>/profiles */
  profile?: boolean;
  /** leave the stack parts this run started running (default: stop them at the end) */
  keepStack?: boolean;
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
  targetRate: number | undefined;
  writtenRate: number;
  events: number;
  cpuSeconds: number;
}

export interface RoundResult {
  round: number;
  write: { events: number; counts: OpCounts; rate: number };
  source: Measured;
  sink: Measured;
  webhook?: Measured;
  latency?: LatencyResult[];
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
    errors: string[];
  };
  pipelines: PipelineResult[];
}

/** webhook deliveries are measured over this many events (one HTTP request each) */
const WEBHOOK_EVENTS = 10_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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

interface Follow {
  points: (ProgressPoint & { cpu: number })[];
  rate: number | undefined;
  seconds: number | undefined;
  cpu: number | undefined;
}

/** Polls progress until `total`, recording CPU with each point; rate and CPU exclude start-up. */
async function follow(
  what: string,
  poll: () => Promise<number>,
  total: number,
  meter: () => CpuMeter,
  check: () => Promise<string | undefined>,
  opts: { timeoutMs: number; intervalMs: number },
): Promise<Follow> {
  const points: Follow['points'] = [];
  const t0 = Date.now();
  let m = meter();
  let lastDone = -1;
  let lastChange = Date.now();
  for (let i = 0; ; i++) {
    const done = await poll();
    // a new process may have appeared (e.g. a sink started just before): measure it too
    if (i === 0) m = meter();
    points.push({ t: Date.now(), done, cpu: m.used() });
    if (done >= total) break;
    if (done !== lastDone) {
      lastDone = done;
      lastChange = Date.now();
    }
    if (i % 10 === 0) {
      const problem = await check();
      if (problem) throw new Error(`${what}: ${problem}`);
    }
    if (Date.now() - t0 > opts.timeoutMs || Date.now() - lastChange > 120_000)
      throw new Error(
        `${what}: stuck at ${done} of ${total} after ${Math.round((Date.now() - t0) / 1000)} s`,
      );
    await sleep(opts.intervalMs);
  }
  const r = rateOf(points, total);
  let cpu: number | undefined;
  if (r) {
    const end = points.find((p) => p.done >= total)!;
    const startIdx = points.findIndex((p) => p.t >= end.t - r.seconds * 1000 - 1);
    cpu = Math.round((end.cpu - points[Math.max(0, startIdx)]!.cpu) * 100) / 100;
  }
  return { points, rate: r?.rate, seconds: r?.seconds, cpu };
}

function measured(
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

export class Bench {
  private readonly settings: StackSettings;
  private urls!: StackUrls;
  private kafka!: KafkaClientFactory;
  private admin!: KafkaAdminPort;
  private readonly runId = `b${Date.now().toString(36)}`;
  private readonly result: BenchResult;
  private toolsLibs: string | undefined;

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
    this.urls = urls;
    this.kafka = createKafkajsFactory({
      brokers: this.urls.kafkaBrokers,
      clientId: 'pgcdc-bench',
      logger: createLogger({ level: 'error' }),
    });
    this.admin = this.kafka.admin();
    await this.admin.connect();
    if (this.opts.baselines) this.toolsLibs = await installKafkaTools(this.settings, (m) => this.say(m));
    const drivers: PipelineDriver[] = [];
    let debezium: DebeziumDriver | undefined;
    try {
      if (this.opts.only !== 'debezium') drivers.push(this.pgcdcDriver());
      if (this.opts.vs === 'debezium' || this.opts.only === 'debezium') {
        debezium = new DebeziumDriver({
          settings: this.settings,
          urls: this.urls,
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
      // rounds interleaved across pipelines, so slow phases of the shared machine hit both alike
      for (let n = 1; n <= this.opts.rounds; n++) {
        for (const [i, d] of drivers.entries()) {
          const p = this.result.pipelines[i]!;
          try {
            p.rounds.push(await this.streamRound(d, n, n === this.opts.rounds, i === 0));
          } catch (err) {
            const msg = `round ${n}: ${(err as Error).message}`;
            p.errors.push(msg);
            this.say(`${d.name} ${msg}`);
          }
          this.save();
        }
      }
      if (this.opts.snapshotRows > 0) {
        for (const [i, d] of drivers.entries()) {
          const p = this.result.pipelines[i]!;
          try {
            p.snapshot = await this.snapshotRound(d);
          } catch (err) {
            p.errors.push(`snapshot: ${(err as Error).message}`);
            this.say(`${d.name} snapshot: ${(err as Error).message}`);
          }
          this.save();
        }
      }
      for (const [i, d] of drivers.entries()) this.result.pipelines[i]!.peakRssMb = d.peakRss();
    } finally {
      for (const d of drivers) await d.close().catch(() => undefined);
      await this.admin.disconnect().catch(() => undefined);
    }
    this.result.finishedAt = new Date().toISOString();
    this.result.load.end = loadAverage();
    this.save();
    return this.result;
  }

  private pgcdcDriver(): PgcdcDriver {
    return new PgcdcDriver({
      urls: this.urls,
      dir: this.dir,
      ...(this.opts.producer ? { producer: this.opts.producer } : {}),
      ...(this.opts.profile ? { profileDir: path.join(this.dir, 'profiles') } : {}),
      ...(this.opts.snapshotBatchSize ? { snapshotBatchSize: this.opts.snapshotBatchSize } : {}),
    });
  }

  save(): string {
    const file = path.join(this.dir, 'result.json');
    writeFileSync(file, JSON.stringify(this.result, null, 2));
    writeFileSync(path.join(this.dir, 'result.md'), renderReport(this.result));
    writeFileSync(path.join(this.opts.outDir, 'latest.json'), JSON.stringify(this.result, null, 2));
    writeFileSync(path.join(this.opts.outDir, 'latest.md'), renderReport(this.result));
    return file;
  }

  private round(d: PipelineDriver, tag: string, snapshot: boolean): Round {
    const id = `bench_${this.runId}_${d.name.slice(0, 3)}_${tag}`;
    return {
      id,
      adminUrl: this.urls.adminUrl,
      sourceDb: `${id}_src`,
      sourceUrl: dbUrl(this.urls.adminUrl, `${id}_src`),
      peerDb: `${id}_peer`,
      peerUrl: dbUrl(this.urls.adminUrl, `${id}_peer`),
      slot: `${id}_slot`,
      publication: `${id}_pub`,
      topicPrefix: id,
      snapshot,
    };
  }

  private problems(d: PipelineDriver): () => Promise<string | undefined> {
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

  private async cleanup(d: PipelineDriver, r: Round, extraTopics: string[] = []): Promise<void> {
    await d.stopSource().catch(() => undefined);
    await d.stopSink().catch(() => undefined);
    await dropDatabase(r.adminUrl, r.sourceDb).catch((e: unknown) =>
      this.say(`cleanup: ${(e as Error).message}`),
    );
    await dropDatabase(r.adminUrl, r.peerDb).catch((e: unknown) =>
      this.say(`cleanup: ${(e as Error).message}`),
    );
    await deleteTopics(this.admin, [d.topic(r), ...extraTopics]);
  }

  private async streamRound(
    d: PipelineDriver,
    n: number,
    last: boolean,
    baselines: boolean,
  ): Promise<RoundResult> {
    const r = this.round(d, `r${n}`, false);
    const o = this.opts;
    this.say(`${d.name} round ${n}/${o.rounds}: load ${loadAverage().join(' ')}`);
    await createDatabase(r.adminUrl, r.sourceDb, true);
    await createDatabase(r.adminUrl, r.peerDb, false);
    await d.preparePeer(r);
    const rawSlot = `${r.slot}_raw`;
    const withRaw = baselines && o.baselines;
    await prepareSlots(r.sourceUrl, r.publication, withRaw ? [r.slot, rawSlot] : [r.slot]);
    const writer = new LoadWriter(r.sourceUrl, o.workload, o.writers);
    await writer.open();
    const extraTopics: string[] = [];
    try {
      const pre = await writer.run({ events: o.events });
      const expected = kafkaMessagesFor(pre.counts);
      this.say(
        `  wrote ${pre.events} changes (${pre.counts.c} ins, ${pre.counts.u} upd, ${pre.counts.d} del) in ${pre.seconds.toFixed(1)} s (${Math.round(pre.events / pre.seconds)}/s)`,
      );
      if (withRaw) {
        try {
          const rl = await recvlogicalRate(r.sourceUrl, rawSlot, r.publication, pre.endLsn, pre.events);
          (this.result.baselines.recvlogical ??= []).push(rl);
          this.say(`  baseline pg_recvlogical: ${Math.round(rl.rate)} events/s`);
        } catch (err) {
          this.result.baselines.errors.push(`pg_recvlogical: ${(err as Error).message}`);
        } finally {
          await withPg(r.sourceUrl, (c) => c.query('SELECT pg_drop_replication_slot($1)', [rawSlot])).catch(
            () => undefined,
          );
        }
      }

      // 1. source throughput
      const meter = () => new CpuMeter(d.processes());
      await d.startSource(r);
      const src = await follow(
        'source catch-up',
        () => topicMessages(this.admin, d.topic(r)),
        expected,
        meter,
        this.problems(d),
        {
          timeoutMs: 900_000,
          intervalMs: 100,
        },
      );
      const source = measured(
        src.rate && (src.rate * pre.events) / expected,
        src.seconds,
        src.cpu,
        pre.events,
      );
      this.say(`  source: ${Math.round(source.rate ?? 0)} events/s, ${source.cpuSeconds} CPU s`);

      if (withRaw && n === 1) await this.kafkaBaselines(d, r, expected, extraTopics);

      // 2. sink throughput
      await d.startSink(r);
      const snk = await follow(
        'sink catch-up',
        () => groupPosition(this.admin, d.sinkGroup(r), d.topic(r)),
        expected,
        meter,
        this.problems(d),
        { timeoutMs: 900_000, intervalMs: 200 },
      );
      const win = await peerApplyWindow(r.peerUrl, d.syncedColumn);
      const winSeconds = win ? (win.last.getTime() - win.first.getTime()) / 1000 : undefined;
      const sink = measured(
        winSeconds ? pre.events / winSeconds : undefined,
        winSeconds,
        snk.cpu,
        pre.events,
      );
      this.say(`  sink: ${Math.round(sink.rate ?? 0)} events/s, ${sink.cpuSeconds} CPU s`);
      if (withRaw && n === 1) {
        try {
          const raw = await rawUpsertRate(r.sourceUrl, r.peerUrl);
          (this.result.baselines.rawUpsert ??= []).push(raw);
          this.say(`  baseline multi-row upsert: ${Math.round(raw.rate)} rows/s`);
        } catch (err) {
          this.result.baselines.errors.push(`raw upsert: ${(err as Error).message}`);
        }
      }

      // 3. latency
      let latency: LatencyResult[] | undefined;
      let written = pre.counts;
      if (last && o.latencySeconds > 0) {
        latency = [];
        const phases: { label: string; rate: number | undefined }[] = [
          ...o.rates.map((x) => ({ label: `${x}/s`, rate: x })),
          ...(o.saturation ? [{ label: 'saturation', rate: undefined }] : []),
        ];
        const metricsUrl = d instanceof PgcdcDriver ? d.sourceMetricsUrl() : undefined;
        const publishHist = () =>
          metricsUrl
            ? scrapeHistogram(metricsUrl, 'pgcdc_publish_latency_seconds')
            : Promise.resolve(undefined);
        const sinkUrl = d instanceof PgcdcDriver ? d.sinkMetricsUrl() : undefined;
        const applyHist = () =>
          sinkUrl
            ? scrapeHistogram(sinkUrl, 'pgcdc_target_apply_duration_seconds')
            : Promise.resolve(undefined);
        for (const ph of phases) {
          const m = meter();
          const histBefore = await publishHist();
          const applyBefore = await applyHist();
          const w = await writer.run({
            durationMs: o.latencySeconds * 1000,
            ...(ph.rate ? { rate: ph.rate } : {}),
          });
          written = addCounts(written, w.counts);
          const total = kafkaMessagesFor(written);
          await follow(
            'latency phase (Kafka)',
            () => topicMessages(this.admin, d.topic(r)),
            total,
            meter,
            this.problems(d),
            {
              timeoutMs: 900_000,
              intervalMs: 250,
            },
          );
          await follow(
            'latency phase (peer)',
            () => groupPosition(this.admin, d.sinkGroup(r), d.topic(r)),
            total,
            meter,
            this.problems(d),
            { timeoutMs: 900_000, intervalMs: 250 },
          );
          const lat = await peerLatency(r.peerUrl, d.syncedColumn, w.startedAt, w.endedAt);
          const histAfter = await publishHist();
          const pub = histBefore && histAfter ? diffHistogram(histAfter, histBefore) : undefined;
          const applyAfter = await applyHist();
          const apply = applyBefore && applyAfter ? diffHistogram(applyAfter, applyBefore) : undefined;
          latency.push({
            ...(pub
              ? { publishP50: histogramQuantileMs(pub, 0.5), publishP99: histogramQuantileMs(pub, 0.99) }
              : {}),
            ...(apply
              ? { applyP50: histogramQuantileMs(apply, 0.5), applyP99: histogramQuantileMs(apply, 0.99) }
              : {}),
            label: ph.label,
            targetRate: ph.rate,
            writtenRate: w.events / w.seconds,
            events: w.events,
            cpuSeconds: m.used(),
            ...lat,
          });
          this.say(
            `  latency ${ph.label}: wrote ${Math.round(w.events / w.seconds)}/s, p50 ${lat.p50?.toFixed(1)} p95 ${lat.p95?.toFixed(1)} p99 ${lat.p99?.toFixed(1)} max ${lat.max?.toFixed(1)} ms (${lat.rows} rows)` +
              (pub
                ? `; commit -> Kafka ack p50 <= ${histogramQuantileMs(pub, 0.5)} p99 <= ${histogramQuantileMs(pub, 0.99)} ms`
                : '') +
              (apply
                ? `; peer transaction p50 <= ${histogramQuantileMs(apply, 0.5)} p99 <= ${histogramQuantileMs(apply, 0.99)} ms (${apply.count})`
                : ''),
          );
        }
      }

      // 4. webhook deliveries (ours)
      let webhook: Measured | undefined;
      if (last && o.webhook && d instanceof PgcdcDriver) {
        webhook = await this.webhookPhase(r, Math.min(eventsIn(written), WEBHOOK_EVENTS));
        extraTopics.push(`${r.topicPrefix}.dlq.hook`);
      }
      extraTopics.push(`${r.topicPrefix}.dlq.peer`, `${r.topicPrefix}.status`);
      return {
        round: n,
        write: { events: pre.events, counts: pre.counts, rate: pre.events / pre.seconds },
        source,
        sink,
        ...(webhook ? { webhook } : {}),
        ...(latency ? { latency } : {}),
        load: loadAverage(),
      };
    } finally {
      await writer.close();
      await this.cleanup(d, r, extraTopics);
    }
  }

  private async kafkaBaselines(
    d: PipelineDriver,
    r: Round,
    records: number,
    extraTopics: string[],
  ): Promise<void> {
    if (!this.toolsLibs) return;
    try {
      const sample = await this.kafka.reader().read(
        d.topic(r),
        [0, 1, 2].map((p) => ({ partition: p, from: 0n, to: 400n })),
        { limitPerPartition: 400, timeoutMs: 20_000 },
      );
      const sized = sample.filter((m) => m.value !== null);
      const size = Math.round(
        sized.reduce((s, m) => s + (m.value?.length ?? 0) + (m.key?.length ?? 0), 0) /
          Math.max(1, sized.length),
      );
      this.result.workloadRowBytes = size;
      const topic = `${r.topicPrefix}.perf`;
      await this.admin.ensureTopic({ topic, partitions: 3, replicationFactor: 1 });
      extraTopics.push(topic);
      // enough records that the JVM's start-up and warm-up do not dominate
      const n = Math.max(records * 3, 200_000);
      const perf = await kafkaProducerPerfRate(this.toolsLibs, this.urls.kafkaBrokers, topic, n, size);
      this.result.baselines.kafkaProducerPerf = { ...perf, recordSize: size, records: n };
      this.say(
        `  baseline Kafka ProducerPerformance: ${Math.round(perf.rate)} records/s of ${size} bytes (${perf.note})`,
      );
    } catch (err) {
      this.result.baselines.errors.push(`ProducerPerformance: ${(err as Error).message}`);
      this.say(`  baseline Kafka ProducerPerformance failed: ${(err as Error).message}`);
    }
  }

  private async webhookPhase(r: Round, events: number): Promise<Measured> {
    const receiver = await startBenchReceiver();
    const d = new PgcdcDriver({
      urls: this.urls,
      dir: this.dir,
      webhook: { url: receiver.url, secret: receiver.secret, batchSize: 1, concurrency: 8 },
    });
    try {
      await d.startSink(r, 'hook');
      const f = await follow(
        'webhook deliveries',
        () => Promise.resolve(receiver.events()),
        events,
        () => new CpuMeter(d.processes()),
        this.problems(d),
        {
          timeoutMs: 900_000,
          intervalMs: 100,
        },
      );
      const m = measured(f.rate, f.seconds, f.cpu, events);
      this.say(
        `  webhook: ${Math.round(m.rate ?? 0)} deliveries/s (batchSize 1, concurrency 8), ${m.cpuSeconds} CPU s`,
      );
      return m;
    } finally {
      await d.stopSink();
      await receiver.close();
    }
  }

  private async snapshotRound(d: PipelineDriver): Promise<{ rows: number; kafka: Measured; peer: Measured }> {
    const r = this.round(d, 'snap', true);
    const rows = this.opts.snapshotRows;
    this.say(`${d.name} snapshot of ${rows} rows: load ${loadAverage().join(' ')}`);
    await createDatabase(r.adminUrl, r.sourceDb, true);
    await createDatabase(r.adminUrl, r.peerDb, false);
    await d.preparePeer(r);
    try {
      await withPg(r.sourceUrl, (c) => c.query(snapshotFillSql(rows, this.opts.workload)));
      await withPg(r.sourceUrl, (c) => c.query('VACUUM ANALYZE public.users'));
      const meter = () => new CpuMeter(d.processes());
      await d.startSource(r);
      // the sink starts once the source has registered the schemas and created the topic (two
      // first registrations at once can collide in the registry); its rate excludes start-up anyway
      await follow(
        'snapshot start',
        () => topicMessages(this.admin, d.topic(r)),
        1,
        meter,
        this.problems(d),
        {
          timeoutMs: 300_000,
          intervalMs: 100,
        },
      );
      await d.startSink(r);
      const [k, p] = await Promise.all([
        follow(
          'snapshot into Kafka',
          () => topicMessages(this.admin, d.topic(r)),
          rows,
          meter,
          this.problems(d),
          {
            timeoutMs: 1_800_000,
            intervalMs: 200,
          },
        ),
        follow('snapshot into peer', () => tableRows(r.peerUrl), rows, meter, this.problems(d), {
          timeoutMs: 1_800_000,
          intervalMs: 500,
        }),
      ]);
      const kafka = measured(k.rate, k.seconds, undefined, rows);
      const peer = measured(p.rate, p.seconds, p.cpu, rows);
      this.say(
        `  snapshot: ${Math.round(kafka.rate ?? 0)} rows/s into Kafka, ${Math.round(peer.rate ?? 0)} rows/s into the peer`,
      );
      return { rows, kafka, peer };
    } finally {
      await this.cleanup(d, r, [`${r.topicPrefix}.dlq.peer`, `${r.topicPrefix}.status`]);
    }
  }
}

function addCounts(a: OpCounts, b: OpCounts): OpCounts {
  return { c: a.c + b.c, u: a.u + b.u, d: a.d + b.d };
}

/** Rows like the workload's, generated by the server (fast for 1M rows); 1 in 10 with a large bio. */
export function snapshotFillSql(rows: number, w: WorkloadSpec): string {
  const every = w.largeBioRatio > 0 ? Math.max(1, Math.round(1 / w.largeBioRatio)) : 0;
  const chunks = Math.max(1, Math.ceil(w.largeBioBytes / 32));
  const bio = every
    ? `CASE WHEN g % ${every} = 0 THEN (SELECT string_agg(md5(random()::text || g::text || i::text), '') FROM generate_series(1, ${chunks}) i) ELSE 'Hi, I am ' || g END`
    : `'Hi, I am ' || g`;
  return `INSERT INTO public.users (id, email, username, first_name, last_name, password_hash, phone, address, zip, city, country, bio, preferences, tags, balance, last_login_at)
SELECT g, 'user' || g || '@example.org', 'user' || g, 'First' || (g % 100), 'Last' || (g % 1000), md5(g::text),
       '+33 6 ' || lpad((g % 100000000)::text, 8, '0'), g % 200 || ' rue Lovelace', lpad((g % 99999)::text, 5, '0'),
       'City' || (g % 50), 'FR', ${bio}, jsonb_build_object('theme', CASE WHEN g % 2 = 0 THEN 'dark' ELSE 'light' END, 'n', g),
       ARRAY['beta', 'vip'], (g % 100000) / 100.0, now() - (g % 1000) * interval '1 hour'
  FROM generate_series(1, ${rows}) g`;
}
