// Latency trace (issue 22): where one change's time goes between the source and the peer, row by
// row, for pipelines run side by side (variants: a checkout and producer settings), alternating,
// on the local stack (which must be up: `pgcdc-dev stack up`). Each repetition is a fresh source
// and peer database, slot and topic; `pgcdc produce` and `pgcdc consume` run as child processes
// with the product defaults; the bench's writers write at a fixed rate (a warm-up first, not
// measured). Per row changed in the measured window, four stamps split its time:
//   updated_at (the writer's statement, clock_timestamp()) -> the source commit
//   (pg_xact_commit_timestamp, track_commit_timestamp is on in the stack) -> the Kafka record's
//   CreateTime (our producer's send call) -> the peer's _pgcdc_synced_at (the sink's statement)
//   -> the peer commit (pg_xact_commit_timestamp of the peer row).
// The bench's end-to-end figure is updated_at -> _pgcdc_synced_at. Printed per variant: the
// percentiles of each segment over all rows of all repetitions, and, for the rows in the e2e tail
// (>= the repetition's p99), the median share of each segment: which stage makes the tail.
// Measurement only; nothing of it ships. Usage (stack variables exported as for the tests):
//   npx tsx dev/latency/trace.ts --variant after=. --variant before=../before --reps 3
//   npx tsx dev/latency/trace.ts --variant l5=.:lingerMs=5 --variant l0=.:lingerMs=0
import { mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createKafkajsFactory } from '../../pipeline/kafka/kafkajs.ts';
import { createLogger } from '../../pipeline/observability/logger.ts';
import type { Round } from '../bench/driver.ts';
import {
  createDatabase,
  dropDatabase,
  groupPosition,
  prepareSlots,
  topicMessages,
  withPg,
} from '../bench/env.ts';
import { PgcdcDriver } from '../bench/pgcdc-driver.ts';
import { DEFAULT_WORKLOAD, kafkaMessagesFor } from '../bench/workload.ts';
import { LoadWriter } from '../bench/writer.ts';
import { stackSettingsFromEnv, stackUrls } from '../stack/settings.ts';

interface Variant {
  name: string;
  root: string;
  producer?: { lingerMs?: number; batchMaxMessages?: number };
}

/** `name=root[:key=value,...]` (keys: lingerMs, batchMaxMessages) */
function parseVariant(text: string): Variant {
  const eq = text.indexOf('=');
  const name = eq < 0 ? text : text.slice(0, eq);
  const [root, ...settings] = (eq < 0 ? '.' : text.slice(eq + 1)).split(':');
  const producer: Record<string, number> = {};
  for (const s of settings.join(':').split(',').filter(Boolean)) {
    const [k, v] = s.split('=');
    producer[k!] = Number(v);
  }
  return {
    name,
    root: path.resolve(root || '.'),
    ...(Object.keys(producer).length ? { producer } : {}),
  };
}

/** One row's stamps, ms since the epoch. */
interface RowTimes {
  stmt: number;
  srcCommit: number;
  kafka: number;
  synced: number;
  peerCommit: number;
}

const SEGMENTS = {
  'stmt->commit': (r: RowTimes) => r.srcCommit - r.stmt,
  'commit->send': (r: RowTimes) => r.kafka - r.srcCommit,
  'send->peer stmt': (r: RowTimes) => r.synced - r.kafka,
  'peer stmt->commit': (r: RowTimes) => r.peerCommit - r.synced,
  'e2e (bench)': (r: RowTimes) => r.synced - r.stmt,
  'commit->peer commit': (r: RowTimes) => r.peerCommit - r.srcCommit,
} as const;

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}
const sortNum = (xs: number[]) => [...xs].sort((a, b) => a - b);
const median = (xs: number[]) => quantile(sortNum(xs), 0.5);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, read: () => Promise<number>, want: number, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = await read();
    if (got >= want) return;
    if (Date.now() > deadline) throw new Error(`${what}: ${got} of ${want} after ${timeoutMs} ms`);
    await sleep(100);
  }
}

async function main() {
  const { values } = parseArgs({
    options: {
      variant: { type: 'string', multiple: true },
      reps: { type: 'string', default: '3' },
      seconds: { type: 'string', default: '15' },
      warmup: { type: 'string', default: '3' },
      rate: { type: 'string', default: '1000' },
      writers: { type: 'string', default: '8' },
      out: { type: 'string', default: path.join(os.tmpdir(), 'pgcdc-latency-trace') },
      /** V8 CPU profiles of the children (whole run, warm-up included) under the run's folder */
      profile: { type: 'boolean', default: false },
    },
  });
  const variants = (values.variant ?? ['here=.']).map(parseVariant);
  const reps = Number(values.reps);
  const rate = Number(values.rate);
  const urls = stackUrls(stackSettingsFromEnv(process.env));
  const runId = Date.now().toString(36);
  const dir = path.join(values.out, runId);
  mkdirSync(dir, { recursive: true });
  const kafka = createKafkajsFactory({
    brokers: urls.kafkaBrokers,
    clientId: 'pgcdc-trace',
    logger: createLogger({ level: 'error' }),
  });
  const admin = kafka.admin();
  await admin.connect();
  const rows = new Map<string, RowTimes[][]>(variants.map((v) => [v.name, []]));
  try {
    for (let rep = 0; rep < reps; rep++) {
      // alternate the order: each variant goes first in half of the repetitions
      const order = rep % 2 === 0 ? variants : [...variants].reverse();
      for (const v of order) {
        const load = os.loadavg().map((x) => x.toFixed(1));
        const got = await traceOnce(v, `trace_${runId}_${v.name.replace(/\W/g, '')}_${rep}`);
        rows.get(v.name)!.push(got);
        const e2e = sortNum(got.map(SEGMENTS['e2e (bench)']));
        console.error(
          `${v.name} rep ${rep + 1}/${reps} (load ${load.join(' ')}): ${got.length} rows, e2e p50 ${quantile(e2e, 0.5).toFixed(1)} p99 ${quantile(e2e, 0.99).toFixed(1)} max ${e2e.at(-1)?.toFixed(1)} ms`,
        );
      }
    }
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
  for (const v of variants) report(v.name, rows.get(v.name)!);

  async function traceOnce(v: Variant, id: string): Promise<RowTimes[]> {
    const r: Round = {
      id,
      adminUrl: urls.adminUrl,
      sourceDb: `${id}_src`,
      sourceUrl: '',
      peerDb: `${id}_peer`,
      peerUrl: '',
      slot: `${id}_slot`,
      publication: `${id}_pub`,
      topicPrefix: id,
      snapshot: false,
    };
    r.sourceUrl = await createDatabase(r.adminUrl, r.sourceDb, true);
    r.peerUrl = await createDatabase(r.adminUrl, r.peerDb, false);
    await prepareSlots(r.sourceUrl, r.publication, [r.slot]);
    const d = new PgcdcDriver({
      urls,
      dir,
      root: v.root,
      name: v.name,
      ...(v.producer ? { producer: v.producer } : {}),
      ...(values.profile ? { profileDir: path.join(dir, 'profiles', id) } : {}),
    });
    const writer = new LoadWriter(r.sourceUrl, DEFAULT_WORKLOAD, Number(values.writers));
    await writer.open();
    try {
      await d.startSource(r);
      await d.startSink(r);
      const caughtUp = async (messages: number) => {
        await waitFor('Kafka', () => topicMessages(admin, d.topic(r)), messages, 300_000);
        await waitFor('peer', () => groupPosition(admin, d.sinkGroup(r), d.topic(r)), messages, 300_000);
      };
      const warm = await writer.run({ rate, durationMs: Number(values.warmup) * 1000 });
      let messages = kafkaMessagesFor(warm.counts);
      await caughtUp(messages);
      const [source, sink] = d.processes();
      const cpu0 = [source?.cpu() ?? 0, sink?.cpu() ?? 0];
      const w = await writer.run({ rate, durationMs: Number(values.seconds) * 1000 });
      messages += kafkaMessagesFor(w.counts);
      await caughtUp(messages);
      const used = [(source?.cpu() ?? 0) - cpu0[0]!, (sink?.cpu() ?? 0) - cpu0[1]!];
      console.error(
        `  ${v.name}: CPU ms per 1,000 events: produce ${((used[0]! * 1e6) / w.events).toFixed(0)}, consume ${((used[1]! * 1e6) / w.events).toFixed(0)}`,
      );
      return await collect(r, d.topic(r), w.startedAt, w.endedAt);
    } finally {
      await writer.close();
      await d.close();
      await dropDatabase(r.adminUrl, r.sourceDb).catch(() => undefined);
      await dropDatabase(r.adminUrl, r.peerDb).catch(() => undefined);
      await admin.deleteTopic(d.topic(r)).catch(() => undefined);
    }
  }

  async function collect(r: Round, topic: string, from: Date, to: Date): Promise<RowTimes[]> {
    const window = `updated_at::timestamptz >= $1 AND updated_at::timestamptz < $2`;
    const ms = (col: string) => `extract(epoch FROM ${col}) * 1000`;
    type Src = { id: string; stmt: number; commit: number };
    type Peer = { id: string; stmt: number; synced: number; commit: number; event: string };
    const src = await withPg(r.sourceUrl, (c) =>
      c.query<Src>(
        `SELECT id::text, ${ms('updated_at::timestamptz')} AS stmt, ${ms('pg_xact_commit_timestamp(xmin)')} AS commit FROM public.users WHERE ${window}`,
        [from, to],
      ),
    );
    const peer = await withPg(r.peerUrl, (c) =>
      c.query<Peer>(
        `SELECT id::text, ${ms('updated_at::timestamptz')} AS stmt, ${ms('_pgcdc_synced_at')} AS synced, ${ms('pg_xact_commit_timestamp(xmin)')} AS commit, _pgcdc_event_id AS event FROM public.users WHERE ${window}`,
        [from, to],
      ),
    );
    const offsets = await admin.topicOffsets(topic);
    const messages = await kafka.reader().read(
      topic,
      offsets.map((p) => ({ partition: p.partition, from: p.low, to: p.high })),
      { timeoutMs: 120_000 },
    );
    const sent = new Map<string, number>();
    for (const m of messages) {
      const id = m.headers['pgcdc-event-id'];
      if (id !== undefined && m.value !== null) sent.set(id, m.timestampMs);
    }
    const bySrc = new Map(src.rows.map((s) => [s.id, s]));
    const out: RowTimes[] = [];
    for (const p of peer.rows) {
      const s = bySrc.get(p.id);
      const k = sent.get(p.event);
      if (!s || k === undefined || Number(s.stmt) !== Number(p.stmt)) continue; // a later version
      out.push({
        stmt: Number(s.stmt),
        srcCommit: Number(s.commit),
        kafka: k,
        synced: Number(p.synced),
        peerCommit: Number(p.commit),
      });
    }
    return out;
  }
}

function report(name: string, reps: RowTimes[][]) {
  const all = reps.flat();
  console.log(`\n## ${name}: ${all.length} rows in ${reps.length} repetitions`);
  console.log('| segment, ms | p50 | p90 | p95 | p99 | max | median share of the e2e tail (>= p99 rows) |');
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  // the tail rows of each repetition (its own p99), so one bad repetition does not own the tail
  const tail = reps.flatMap((rs) => {
    const e2e = sortNum(rs.map(SEGMENTS['e2e (bench)']));
    const p99 = quantile(e2e, 0.99);
    return rs.filter((r) => SEGMENTS['e2e (bench)'](r) >= p99);
  });
  for (const [seg, f] of Object.entries(SEGMENTS)) {
    const xs = sortNum(all.map(f));
    const share = median(tail.map(f));
    console.log(
      `| ${seg} | ${[0.5, 0.9, 0.95, 0.99].map((q) => quantile(xs, q).toFixed(1)).join(' | ')} | ${xs.at(-1)?.toFixed(1)} | ${share.toFixed(1)} |`,
    );
  }
  const perRep = reps.map((rs) => quantile(sortNum(rs.map(SEGMENTS['e2e (bench)'])), 0.99));
  console.log(
    `e2e p99 per repetition: ${perRep.map((x) => x.toFixed(1)).join(', ')} (median ${median(perRep).toFixed(1)})`,
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
