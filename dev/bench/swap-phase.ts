// The unique-swap burst phase of the default bench run (issue 22's "converges in under 2 s"), and
// the whole pipeline's start-up measured on the way. One pipeline of ours with the configuration
// defaults, on fresh databases, slot and topic; the peer keeps email unique as the source does:
//   1. start-up: the first repetition's 70 users are written before anything runs; producer and
//      consumer are started together; process start -> first of those rows applied at the peer
//      (the peer's own stamp);
//   2. each repetition: 70 fresh users (ids shifted by 70 each time, so every burst meets the same
//      conflicts), the peer equal to the source, then the burst of unique-swaps.ts (15 pairs of
//      emails swapped in one source transaction, three times, then 20 release/take pairs: 175
//      events, most pairs across partitions); seconds from the burst's last commit until the
//      peer's (id, email) equal the source's, and until Kafka holds the whole burst.
// The processes stay up between repetitions (the first burst's JIT warm-up is in its figure
// only); the `--compare` phase (sink-phases.ts) measures a fresh pipeline per repetition instead.
// A failed repetition is recorded in the result and ends the phase; the objects are dropped.
import { cleanupRound, roundFor, type BenchContext } from './context.ts';
import { createDatabase, peerApplyWindow, prepareSlots, topicMessages, withPg } from './env.ts';
import { PgcdcDriver } from './pgcdc-driver.ts';
import { loadAverage } from './proc.ts';
import type { SwapBurstResult } from './result.ts';
import { converged, createUniquePeer } from './sink-phases.ts';
import { median } from './stats.ts';
import { seedUsersSql, swapBurstSqlAt, SWAP_BURST_EVENTS, SWAP_USERS } from './unique-swaps.ts';

/** each wait of the phase: generous for a loaded 2-core machine, far above the 2 s goal */
const CONVERGE_TIMEOUT_MS = 120_000;
const START_TIMEOUT_MS = 300_000;

export async function swapBurstPhase(ctx: BenchContext, reps: number): Promise<SwapBurstResult> {
  const out: SwapBurstResult = {
    events: SWAP_BURST_EVENTS,
    seconds: [],
    median: undefined,
    kafkaSeconds: [],
    pipelineStartupMs: undefined,
    phaseSeconds: 0,
    errors: [],
  };
  const started = Date.now();
  const d = new PgcdcDriver({ urls: ctx.urls, dir: ctx.dir });
  const r = roundFor(ctx, d, 'swaps', false);
  ctx.say(`pgcdc unique-swap burst, ${reps} repetition(s): load ${loadAverage().join(' ')}`);
  try {
    await createDatabase(r.adminUrl, r.sourceDb, true); // users.email is unique there
    await createDatabase(r.adminUrl, r.peerDb, false);
    await createUniquePeer(r.peerUrl);
    await prepareSlots(r.sourceUrl, r.publication, [r.slot]);
    await withPg(r.sourceUrl, (c) => c.query(seedUsersSql(SWAP_USERS, 1)));
    const t0 = Date.now();
    await d.startSource(r);
    await d.startSink(r);
    await converged(r, d, START_TIMEOUT_MS);
    const win = await peerApplyWindow(r.peerUrl, d.syncedColumn);
    out.pipelineStartupMs = win ? win.first.getTime() - t0 : undefined;
    ctx.say(`  pipeline start -> first row applied: ${out.pipelineStartupMs ?? '-'} ms`);
    for (let rep = 1; rep <= reps; rep++) {
      const offset = (rep - 1) * SWAP_USERS;
      if (rep > 1) {
        await withPg(r.sourceUrl, (c) => c.query(seedUsersSql(SWAP_USERS, offset + 1)));
        await converged(r, d, CONVERGE_TIMEOUT_MS);
      }
      const before = await topicMessages(ctx.admin, d.topic(r));
      await withPg(r.sourceUrl, async (c) => {
        for (const sql of swapBurstSqlAt(offset)) await c.query(sql);
      });
      const b0 = Date.now();
      // the producer's part: until Kafka holds the whole burst
      const inKafka = (async () => {
        while ((await topicMessages(ctx.admin, d.topic(r))) < before + SWAP_BURST_EVENTS) {
          if (Date.now() - b0 > CONVERGE_TIMEOUT_MS) return undefined;
          await new Promise((res) => setTimeout(res, 20));
        }
        return (Date.now() - b0) / 1000;
      })();
      await converged(r, d, CONVERGE_TIMEOUT_MS);
      out.seconds.push((Date.now() - b0) / 1000);
      const k = await inKafka;
      if (k !== undefined) out.kafkaSeconds.push(k);
      ctx.say(
        `  burst ${rep}/${reps}: peer equal after ${out.seconds.at(-1)!.toFixed(2)} s (in Kafka after ${k?.toFixed(2) ?? '-'} s)`,
      );
    }
  } catch (err) {
    out.errors.push((err as Error).message);
    ctx.say(`  unique-swap burst: ${(err as Error).message}`);
  } finally {
    await cleanupRound(ctx, d, r, [`${r.topicPrefix}.dlq.peer`, `${r.topicPrefix}.status`]);
  }
  out.median = median(out.seconds);
  out.phaseSeconds = Math.round((Date.now() - started) / 100) / 10;
  ctx.say(`  unique-swap burst phase: ${out.phaseSeconds} s in all`);
  return out;
}
