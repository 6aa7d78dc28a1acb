// One streaming round of the benchmark for one pipeline, on fresh databases, slot and topics:
//   1. source throughput: N changes written while the pipeline is stopped, then its source side
//      started; events/s from the first message in Kafka until all are there (start-up excluded),
//      and the start-up: process start -> first message in Kafka;
//   2. sink throughput: its peer sink started on that full topic; events/s from the first to the
//      last row applied at the peer (the peer's own apply timestamps), and the start-up: process
//      start -> first row applied;
//   3. (last round) end-to-end latency phases (latency.ts);
//   4. (last round, ours) webhook deliveries/s of the same topic to a local receiver.
// In the first round (ours), the comparison phases on its full topic: sink variants (--compare,
// sink-phases.ts) and shaped targets (--shaping, shaping-phase.ts).
// The first pipeline's rounds also measure the raw baselines (baseline-phases.ts). The round's
// objects are dropped at the end, whatever happened.
import { kafkaBaselines, rawUpsertBaseline, recvlogicalBaseline } from './baseline-phases.ts';
import { addCounts, cleanupRound, problems, roundFor, type BenchContext } from './context.ts';
import { DebeziumDriver } from './debezium-driver.ts';
import { debeziumMysqlPhase } from './debezium-mysql.ts';
import type { PipelineDriver, Round } from './driver.ts';
import { createDatabase, groupPosition, peerApplyWindow, prepareSlots, topicMessages } from './env.ts';
import { follow } from './follow.ts';
import { latencyPhases } from './latency.ts';
import { mysqlPhase } from './mysql-phase.ts';
import { PgcdcDriver } from './pgcdc-driver.ts';
import { shapingPhase } from './shaping-phase.ts';
import { compareSinks } from './sink-phases.ts';
import { CpuMeter, loadAverage } from './proc.ts';
import { startBenchReceiver } from './receiver.ts';
import { rawHttpRate } from './http-baseline.ts';
import {
  measured,
  type LatencyResult,
  type Measured,
  type RoundResult,
  type StartupResult,
} from './result.ts';
import { eventsIn, kafkaMessagesFor } from './workload.ts';
import { LoadWriter } from './writer.ts';

/** webhook deliveries are measured over this many events (one HTTP request each) */
const WEBHOOK_EVENTS = 10_000;
const WEBHOOK_CONCURRENCY = 8;

export async function streamRound(
  ctx: BenchContext,
  d: PipelineDriver,
  n: number,
  last: boolean,
  baselines: boolean,
): Promise<RoundResult> {
  const r = roundFor(ctx, d, `r${n}`, false);
  const o = ctx.opts;
  ctx.say(`${d.name} round ${n}/${o.rounds}: load ${loadAverage().join(' ')}`);
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
    ctx.say(
      `  wrote ${pre.events} changes (${pre.counts.c} ins, ${pre.counts.u} upd, ${pre.counts.d} del) in ${pre.seconds.toFixed(1)} s (${Math.round(pre.events / pre.seconds)}/s)`,
    );
    if (withRaw) await recvlogicalBaseline(ctx, r, rawSlot, pre.endLsn, pre.events);

    // 1. source throughput
    const meter = () => new CpuMeter(d.processes());
    const sourceStart = Date.now();
    await d.startSource(r);
    const src = await follow(
      'source catch-up',
      () => topicMessages(ctx.admin, d.topic(r)),
      expected,
      meter,
      problems(d),
      {
        timeoutMs: 900_000,
        intervalMs: 100,
      },
    );
    const source = measured(src.rate && (src.rate * pre.events) / expected, src.seconds, src.cpu, pre.events);
    const firstInKafka = src.points.find((p) => p.done > 0)?.t;
    const startup: StartupResult = {
      sourceMs: firstInKafka === undefined ? undefined : firstInKafka - sourceStart,
      sinkMs: undefined,
    };
    ctx.say(
      `  source: ${Math.round(source.rate ?? 0)} events/s, ${source.cpuSeconds} CPU s; start -> first message in Kafka ${startup.sourceMs ?? '-'} ms`,
    );

    if (withRaw && n === 1) await kafkaBaselines(ctx, d, r, expected, extraTopics);

    // 2. sink throughput
    const sinkStart = Date.now();
    await d.startSink(r);
    const snk = await follow(
      'sink catch-up',
      () => groupPosition(ctx.admin, d.sinkGroup(r), d.topic(r)),
      expected,
      meter,
      problems(d),
      { timeoutMs: 900_000, intervalMs: 200 },
    );
    const win = await peerApplyWindow(r.peerUrl, d.syncedColumn);
    const winSeconds = win ? (win.last.getTime() - win.first.getTime()) / 1000 : undefined;
    const sink = measured(winSeconds ? pre.events / winSeconds : undefined, winSeconds, snk.cpu, pre.events);
    // the peer's own stamp of its first row (a row updated later carries the later stamp, so this
    // is the earliest row left untouched since: the first batch, give or take its own duration)
    startup.sinkMs = win ? win.first.getTime() - sinkStart : undefined;
    ctx.say(
      `  sink: ${Math.round(sink.rate ?? 0)} events/s, ${sink.cpuSeconds} CPU s; start -> first row applied ${startup.sinkMs ?? '-'} ms`,
    );
    if (withRaw && n === 1) await rawUpsertBaseline(ctx, r);
    let written = pre.counts;
    if (withRaw && n === 1 && d instanceof PgcdcDriver)
      written = addCounts(written, await mysqlPhase(ctx, d, r, writer, pre.events, expected));
    if (n === 1 && d instanceof DebeziumDriver) await debeziumMysqlPhase(ctx, d, r, pre.events, expected);
    const cmp = o.compare;
    if (cmp?.sink && n === 1 && d instanceof PgcdcDriver)
      (ctx.result.compare ??= {}).sink = await compareSinks(
        ctx,
        r,
        pre.events,
        expected,
        cmp.variants,
        cmp.reps,
      );
    if (o.shaping && n === 1 && d instanceof PgcdcDriver)
      ctx.result.shaping = await shapingPhase(ctx, r, pre.events, expected, o.shaping.reps);

    // 3. latency
    let latency: LatencyResult[] | undefined;
    if ((last || o.everyRound) && o.latencySeconds > 0)
      ({ latency, written } = await latencyPhases(ctx, d, r, writer, meter, written));

    // 4. webhook deliveries (ours)
    let webhook: Measured | undefined;
    if ((last || o.everyRound) && o.webhook && d instanceof PgcdcDriver) {
      webhook = await webhookPhase(ctx, d, r, Math.min(eventsIn(written), WEBHOOK_EVENTS));
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
      startup,
      load: loadAverage(),
    };
  } finally {
    await writer.close();
    await cleanupRound(ctx, d, r, extraTopics);
  }
}

/** Our webhook sink on the round's full topic, delivering one event per request to a local receiver. */
async function webhookPhase(
  ctx: BenchContext,
  pipeline: PgcdcDriver,
  r: Round,
  events: number,
): Promise<Measured> {
  const receiver = await startBenchReceiver();
  // the round's pipeline (its checkout, with --compare-tree) with a webhook target
  const d = pipeline.withWebhook({
    url: receiver.url,
    secret: receiver.secret,
    batchSize: 1,
    concurrency: WEBHOOK_CONCURRENCY,
  });
  try {
    await d.startSink(r, 'hook');
    const f = await follow(
      'webhook deliveries',
      () => Promise.resolve(receiver.events()),
      events,
      () => new CpuMeter(d.processes()),
      problems(d),
      {
        timeoutMs: 900_000,
        intervalMs: 100,
      },
    );
    const m = measured(f.rate, f.seconds, f.cpu, events);
    ctx.say(
      `  webhook: ${Math.round(m.rate ?? 0)} deliveries/s (batchSize 1, concurrency ${WEBHOOK_CONCURRENCY}), ${m.cpuSeconds} CPU s`,
    );
    const sent = receiver.requests();
    // the raw client's ceiling beside every webhook figure (a few seconds; not one of --no-baselines)
    if (sent.count > 0) {
      try {
        const raw = await rawHttpRate(sent.count, Math.round(sent.bytes / sent.count), WEBHOOK_CONCURRENCY);
        (ctx.result.baselines.rawHttp ??= []).push(raw);
        ctx.say(`  baseline raw HTTP POSTs: ${Math.round(raw.rate)} requests/s (${raw.note ?? ''})`);
      } catch (err) {
        ctx.result.baselines.errors.push(`raw HTTP: ${(err as Error).message}`);
      }
    }
    return m;
  } finally {
    await d.stopSink();
    await receiver.close();
  }
}
