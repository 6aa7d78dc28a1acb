// Consumer-side comparison phases of the benchmark (`--compare <variants>`), each variant of our
// peer sink measured side by side in the same run, alternating, medians reported:
//   - sink throughput: the variant's peer sink (its own consumer group, a fresh peer database) on
//     the round's full topic; events/s between the first and the last row it wrote, with the raw
//     single-connection multi-row upsert baseline measured in the same alternation;
//   - unique swaps: a burst of cross-partition secondary-unique conflicts (emails swapped between
//     15 pairs in one source transaction, three times, then 20 release/take pairs), from the last
//     source commit until the peer's (id, email) equal the source's.
// A variant is a number of apply connections (`applyConnections`) or `base`: the pgcdc of another
// checkout (`--base-root`, e.g. the main branch) with its defaults, for a before/after pair.
import { createTableSql } from '../../consumers/postgres/sql.ts';
import { loadContract } from '../../schemas/contract.ts';
import { rawUpsertRate } from './baselines.ts';
import { cleanupRound, problems, roundFor, type BenchContext } from './context.ts';
import type { Round } from './driver.ts';
import {
  createDatabase,
  dbUrl,
  dropDatabase,
  groupPosition,
  peerApplyWindow,
  prepareSlots,
  topicMessages,
  withPg,
} from './env.ts';
import { follow } from './follow.ts';
import { PgcdcDriver } from './pgcdc-driver.ts';
import { CpuMeter, loadAverage } from './proc.ts';
import type { CompareResult, SinkVariant } from './result.ts';
import { fmt, markdownTable, median, ratio } from './stats.ts';
import { seedUsersSql, swapBurstSql, SWAP_BURST_EVENTS, SWAP_USERS } from './unique-swaps.ts';

/** `1,3,base` -> variants; `base` needs the other checkout's root. */
export function parseVariants(list: string, baseRoot: string | undefined): SinkVariant[] {
  return list.split(',').map((v) => {
    const t = v.trim();
    if (t === 'base') {
      if (!baseRoot) throw new Error('--compare base needs --base-root <checkout>');
      return { label: 'base', root: baseRoot };
    }
    const n = Number(t);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--compare: a connection count or base, got ${t}`);
    return { label: `${n} conn`, applyConnections: n };
  });
}

const driverFor = (ctx: BenchContext, v: SinkVariant, peerName: string) =>
  new PgcdcDriver({
    urls: ctx.urls,
    dir: ctx.dir,
    peerName,
    ...(v.applyConnections ? { applyConnections: v.applyConnections } : {}),
    ...(v.root ? { root: v.root } : {}),
  });

/** Sink throughput per variant on the round's full topic, alternating with the raw upsert. */
export async function compareSinks(
  ctx: BenchContext,
  r: Round,
  events: number,
  expected: number,
  variants: SinkVariant[],
  reps: number,
): Promise<CompareResult['sink']> {
  const rates = new Map<string, { rates: number[]; cpu: number[] }>();
  const note = (label: string, rate: number | undefined, cpu?: number) => {
    const e = rates.get(label) ?? { rates: [], cpu: [] };
    rates.set(label, e);
    if (rate) e.rates.push(Math.round(rate));
    if (cpu !== undefined) e.cpu.push(cpu);
  };
  for (let rep = 1; rep <= reps; rep++) {
    const peerDb = `${r.id}_cmp`;
    const peerUrl = dbUrl(r.adminUrl, peerDb);
    await createDatabase(r.adminUrl, peerDb, false);
    try {
      note('raw upsert', (await rawUpsertRate(r.sourceUrl, peerUrl)).rate);
    } finally {
      await dropDatabase(r.adminUrl, peerDb);
    }
    for (const [i, v] of variants.entries()) {
      const name = `cmp${rep}v${i}`;
      const vr: Round = { ...r, peerDb: `${r.id}_${name}`, peerUrl: dbUrl(r.adminUrl, `${r.id}_${name}`) };
      await createDatabase(r.adminUrl, vr.peerDb, false);
      const d = driverFor(ctx, v, name);
      try {
        await d.startSink(vr);
        const f = await follow(
          `sink ${v.label}`,
          () => groupPosition(ctx.admin, d.sinkGroup(vr, name), d.topic(vr)),
          expected,
          () => new CpuMeter(d.processes()),
          problems(d),
          { timeoutMs: 900_000, intervalMs: 200 },
        );
        const win = await peerApplyWindow(vr.peerUrl, d.syncedColumn);
        const s = win ? (win.last.getTime() - win.first.getTime()) / 1000 : undefined;
        note(
          v.label,
          s ? events / s : undefined,
          f.cpu !== undefined ? (f.cpu * 100_000) / events : undefined,
        );
      } finally {
        await d.stopSink();
        await dropDatabase(r.adminUrl, vr.peerDb);
      }
    }
    ctx.say(
      `  compare sink rep ${rep}/${reps} (load ${loadAverage().join(' ')}): ${[...rates]
        .map(([l, e]) => `${l} ${e.rates[e.rates.length - 1] ?? '-'}/s`)
        .join(', ')}`,
    );
  }
  return [...rates].map(([label, e]) => ({
    label,
    rates: e.rates,
    median: median(e.rates),
    cpuPer100k: e.cpu.length > 0 ? Math.round((median(e.cpu) ?? 0) * 100) / 100 : undefined,
  }));
}

/** The peer's users table as our sink creates it, with email unique as at the source. */
export async function createUniquePeer(peerUrl: string, contract = loadContract()): Promise<void> {
  await withPg(peerUrl, async (c) => {
    await c.query(
      createTableSql({
        schema: 'public',
        table: 'users',
        columns: contract.columns,
        keyColumns: contract.keyColumns,
      }),
    );
    await c.query('ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email)');
  });
}

const EMAILS = `SELECT coalesce(string_agg(id || ':' || email, ',' ORDER BY id), '') AS s FROM public.users`;

/** Seconds from the burst's last commit until the peer's emails equal the source's, per variant. */
export async function compareSwaps(
  ctx: BenchContext,
  variants: SinkVariant[],
  reps: number,
): Promise<CompareResult['swaps']> {
  const out = variants.map((v) => ({
    label: v.label,
    seconds: [] as number[],
    kafkaSeconds: [] as number[],
  }));
  const contract = loadContract();
  for (let rep = 1; rep <= reps; rep++) {
    for (const [i, v] of variants.entries()) {
      const d = driverFor(ctx, v, 'peer');
      const r = roundFor(ctx, d, `sw${rep}v${i}`, false);
      try {
        await createDatabase(r.adminUrl, r.sourceDb, true); // users.email is unique there
        await createDatabase(r.adminUrl, r.peerDb, false);
        await createUniquePeer(r.peerUrl, contract);
        await prepareSlots(r.sourceUrl, r.publication, [r.slot]);
        await d.startSource(r);
        await d.startSink(r);
        await withPg(r.sourceUrl, (c) => c.query(seedUsersSql(SWAP_USERS)));
        await converged(r, d, 300_000);
        await withPg(r.sourceUrl, async (c) => {
          for (const sql of swapBurstSql) await c.query(sql);
        });
        const t0 = Date.now();
        // the producer's part: until Kafka holds the whole burst (the seed rows and the burst)
        const inKafka = (async () => {
          while ((await topicMessages(ctx.admin, d.topic(r))) < SWAP_USERS + SWAP_BURST_EVENTS) {
            if (Date.now() - t0 > 120_000) return undefined;
            await new Promise((res) => setTimeout(res, 20));
          }
          return (Date.now() - t0) / 1000;
        })();
        await converged(r, d, 120_000);
        out[i]!.seconds.push((Date.now() - t0) / 1000);
        const k = await inKafka;
        if (k !== undefined) out[i]!.kafkaSeconds.push(k);
      } finally {
        await cleanupRound(ctx, d, r, [`${r.topicPrefix}.dlq.peer`, `${r.topicPrefix}.status`]);
      }
    }
    ctx.say(
      `  compare unique swaps rep ${rep}/${reps}: ${out.map((o) => `${o.label} ${o.seconds[o.seconds.length - 1]?.toFixed(2) ?? '-'} s (in Kafka after ${o.kafkaSeconds[o.kafkaSeconds.length - 1]?.toFixed(2) ?? '-'} s)`).join(', ')}`,
    );
  }
  return out.map((o) => ({ ...o, median: median(o.seconds) }));
}

/** Polls until the peer's (id, email) equal the source's (every 20 ms, two connections held). */
export async function converged(r: Round, d: PgcdcDriver, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  const check = problems(d);
  await withPg(r.sourceUrl, (src) =>
    withPg(r.peerUrl, async (peer) => {
      for (let i = 0; ; i++) {
        const [a, b] = await Promise.all([
          src.query<{ s: string }>(EMAILS),
          peer.query<{ s: string }>(EMAILS).catch(() => undefined),
        ]);
        if (b && a.rows[0]!.s === b.rows[0]!.s) return;
        const problem = i % 25 === 0 ? await check() : undefined;
        if (problem) throw new Error(`unique swaps: ${problem}`);
        if (Date.now() > until) throw new Error('unique swaps: the peer did not converge');
        await new Promise((res) => setTimeout(res, 20));
      }
    }),
  );
}

/** The comparison phases as markdown (nothing when they did not run). */
export function renderCompare(c: Partial<CompareResult> | undefined): string[] {
  const out: string[] = [];
  const raw = c?.sink?.find((s) => s.label === 'raw upsert')?.median;
  if (c?.sink) {
    out.push('', '### Peer sink per variant (alternating, medians)', '');
    out.push(
      markdownTable(
        ['variant', 'events/s (median)', 'each repetition', 'x raw upsert', 'CPU s / 100k events'],
        c.sink.map((s) => [
          s.label,
          fmt(s.median),
          s.rates.join(', '),
          s.label === 'raw upsert' ? '' : ratio(s.median, raw),
          fmt(s.cpuPer100k, 2),
        ]),
      ),
    );
  }
  if (c?.swaps) {
    out.push('', '### Unique-swap burst: last source commit -> peer equal (alternating, medians)', '');
    out.push(
      markdownTable(
        ['variant', 'seconds (median)', 'each repetition', 'of which until Kafka held the burst'],
        c.swaps.map((s) => [
          s.label,
          fmt(s.median, 2),
          s.seconds.map((x) => x.toFixed(2)).join(', '),
          (s.kafkaSeconds ?? []).map((x) => x.toFixed(2)).join(', '),
        ]),
      ),
    );
  }
  return out;
}
