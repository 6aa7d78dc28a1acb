// The several-tables phase of the benchmark (`--tables 3`, docs/tables.md "Performance with
// several tables"): after the one-table rounds, the same number of changes spread over users,
// groups and memberships (tables-workload.ts) through one pgcdc pipeline (source.tables, the
// dev/tables contracts), on fresh databases, slot and topics per round:
//   1. source: changes written while the producer is stopped, then `pgcdc produce` started;
//      events/s from the first message in any of the three topics until all are there;
//   2. sink: `pgcdc consume` on the three full topics; events/s from the first to the last row
//      applied at the peer over the three tables (the peer's own apply timestamps).
// So one run reports source and sink events/s with 1 table and with 3 on the same machine state.
// The round's objects are dropped at the end, whatever happened.
import { rmSync } from 'node:fs';
import pg from 'pg';
import { KafkaSchema, topicFor } from '../../pipeline/config/schema.ts';
import { parseTableName } from '../../pipeline/config/tables.ts';
import { createFixtureTables, FIXTURE_TABLES, fixtureContractDir } from '../tables/index.ts';
import { cleanupRound, problems, roundFor, type BenchContext } from './context.ts';
import type { Round } from './driver.ts';
import { createDatabase, groupPosition, topicMessages, withPg } from './env.ts';
import { follow } from './follow.ts';
import { PgcdcDriver } from './pgcdc-driver.ts';
import { CpuMeter, loadAverage } from './proc.ts';
import { measured, type BenchResult, type Measured, type TablesRoundResult } from './result.ts';
import { fmt, markdownTable, median } from './stats.ts';
import { anchorGroupsFor, anchorSql, TablesPlan } from './tables-workload.ts';
import { emptyCounts, eventsIn, kafkaMessagesFor, type OpCounts } from './workload.ts';

const q = pg.escapeIdentifier;

/** Writes `events` changes over the three tables with `writers` connections, as fast as possible. */
async function writeTables(
  ctx: BenchContext,
  url: string,
  anchorGroups: number,
): Promise<{ counts: OpCounts; seconds: number }> {
  const { workload, writers, events } = ctx.opts;
  const plans = Array.from({ length: writers }, (_, w) => new TablesPlan(workload, w, writers, anchorGroups));
  const counts = emptyCounts();
  const maxTxns = Math.ceil(events / workload.txnSize);
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    plans.map((plan) =>
      withPg(url, async (c) => {
        while (next++ < maxTxns) {
          const txn = plan.nextTxn();
          const res = (await c.query(txn.sql)) as pg.QueryResult | pg.QueryResult[];
          const results = Array.isArray(res) ? res : [res];
          const kinds = (['c', 'u', 'd'] as const).filter((k) => txn.counts[k] > 0);
          kinds.forEach((k, j) => {
            const done = results[j]?.rowCount ?? 0;
            // the expected message count relies on every planned change happening
            if (done !== txn.counts[k])
              throw new Error(`tables workload: planned ${txn.counts[k]} ${k}, done ${done}`);
            counts[k] += done;
          });
        }
      }),
    ),
  );
  return { counts, seconds: (performance.now() - t0) / 1000 };
}

/** Sum of a per-topic count over the round's topics. */
const overTopics = async (topics: string[], count: (t: string) => Promise<number>): Promise<number> =>
  (await Promise.all(topics.map(count))).reduce((a, b) => a + b, 0);

/**
 * Per topic, when the sink group's committed position first moved and when it reached the topic's
 * end (seconds since the sink started, at the poll interval): a commit follows the apply of its
 * batch, so these are the first and last applies of each table as the consumer made them. (The
 * peer's `_pgcdc_synced_at` says when a row was applied LAST: a table's earliest value is the
 * first row no later change touched again, not its first apply.)
 */
function topicProgress(topics: string[], position: (t: string) => Promise<number>) {
  const t0 = Date.now();
  const seen = new Map<string, { first?: number; done?: number; at: number }>();
  return {
    async poll(expected: Map<string, number>): Promise<number> {
      const now = (Date.now() - t0) / 1000;
      const got = await Promise.all(topics.map(position));
      topics.forEach((t, i) => {
        const s = seen.get(t) ?? { at: 0 };
        s.at = got[i]!;
        if (s.first === undefined && s.at > 0) s.first = now;
        if (s.done === undefined && s.at >= (expected.get(t) ?? Infinity)) s.done = now;
        seen.set(t, s);
      });
      return got.reduce((a, b) => a + b, 0);
    },
    describe: () =>
      topics
        .map((t) => {
          const s = seen.get(t);
          const at = (x: number | undefined) => (x === undefined ? '?' : x.toFixed(1));
          return `${t.split('.').pop()} ${at(s?.first)} .. ${at(s?.done)}`;
        })
        .join(', '),
  };
}

/** First and last apply time at the peer over the three tables (each table's window told too). */
async function applyWindow(ctx: BenchContext, peerUrl: string, column: string): Promise<number | undefined> {
  return withPg(peerUrl, async (c) => {
    const union = FIXTURE_TABLES.map(
      (t) => `SELECT ${c.escapeLiteral(t)} AS t, ${q(column)} AS at FROM ${t}`,
    );
    const r = await c.query<{ t: string | null; first: Date | null; last: Date | null; n: string }>(
      `SELECT t, min(at) AS first, max(at) AS last, count(*)::text AS n FROM (${union.join(' UNION ALL ')}) x GROUP BY ROLLUP (t) ORDER BY t NULLS LAST`,
    );
    const all = r.rows.find((x) => x.t === null);
    if (!all?.first || !all.last) return undefined;
    const t0 = all.first.getTime();
    const at = (d: Date | null) => (d ? ((d.getTime() - t0) / 1000).toFixed(2) : '?');
    ctx.say(
      `  peer rows per table (each row stamped at its last apply: earliest .. latest, s): ${r.rows
        .filter((x) => x.t)
        .map((x) => `${x.t} ${x.n} (${at(x.first)} .. ${at(x.last)})`)
        .join(', ')}`,
    );
    return (all.last.getTime() - t0) / 1000;
  });
}

/** One round of the three-table pipeline: source then sink events/s. */
export async function tablesRound(ctx: BenchContext, n: number): Promise<TablesRoundResult> {
  const contracts = fixtureContractDir();
  const d = new PgcdcDriver({
    urls: ctx.urls,
    dir: ctx.dir,
    tables: FIXTURE_TABLES,
    contracts,
    ...(ctx.opts.producer ? { producer: ctx.opts.producer } : {}),
  });
  const r: Round = roundFor(ctx, d, `t3r${n}`, false);
  const kafka = KafkaSchema.parse({ brokers: ctx.urls.kafkaBrokers, topicPrefix: r.topicPrefix });
  const topics = FIXTURE_TABLES.map((t) => topicFor(kafka, parseTableName(t)!));
  ctx.say(`pgcdc 3 tables round ${n}/${ctx.opts.rounds}: load ${loadAverage().join(' ')}`);
  const anchorGroups = anchorGroupsFor(ctx.opts.events);
  try {
    await createDatabase(r.adminUrl, r.sourceDb, true);
    await createFixtureTables(r.sourceUrl);
    await createDatabase(r.adminUrl, r.peerDb, false);
    await withPg(r.sourceUrl, async (c) => {
      await c.query(anchorSql(anchorGroups));
      await c.query(`CREATE PUBLICATION ${q(r.publication)} FOR TABLE ${FIXTURE_TABLES.join(', ')}`);
      await c.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [r.slot]);
    });
    const w = await writeTables(ctx, r.sourceUrl, anchorGroups);
    const events = eventsIn(w.counts);
    const expected = kafkaMessagesFor(w.counts);
    ctx.say(
      `  wrote ${events} changes over 3 tables (${w.counts.c} ins, ${w.counts.u} upd, ${w.counts.d} del) in ${w.seconds.toFixed(1)} s`,
    );
    const meter = () => new CpuMeter(d.processes());
    const opts = { timeoutMs: 900_000, intervalMs: 100 };
    await d.startSource(r);
    const src = await follow(
      'source catch-up (3 tables)',
      () => overTopics(topics, (t) => topicMessages(ctx.admin, t)),
      expected,
      meter,
      problems(d),
      opts,
    );
    const source = measured(src.rate && (src.rate * events) / expected, src.seconds, src.cpu, events);
    ctx.say(`  source (3 tables): ${Math.round(source.rate ?? 0)} events/s, ${source.cpuSeconds} CPU s`);
    const perTopic = new Map(
      await Promise.all(topics.map(async (t) => [t, await topicMessages(ctx.admin, t)] as const)),
    );
    const progress = topicProgress(topics, (t) => groupPosition(ctx.admin, d.sinkGroup(r), t));
    await d.startSink(r);
    const snk = await follow(
      'sink catch-up (3 tables)',
      () => progress.poll(perTopic),
      expected,
      meter,
      problems(d),
      { ...opts, intervalMs: 200 },
    );
    ctx.say(
      `  sink group position per topic (moved .. complete, s after the sink started): ${progress.describe()}`,
    );
    const winSeconds = await applyWindow(ctx, r.peerUrl, d.syncedColumn);
    const sink = measured(winSeconds ? events / winSeconds : undefined, winSeconds, snk.cpu, events);
    ctx.say(`  sink (3 tables): ${Math.round(sink.rate ?? 0)} events/s, ${sink.cpuSeconds} CPU s`);
    return {
      round: n,
      tables: FIXTURE_TABLES.length,
      write: { events, counts: w.counts, rate: events / w.seconds },
      source,
      sink,
      load: loadAverage(),
    };
  } finally {
    rmSync(contracts, { recursive: true, force: true });
    await cleanupRound(ctx, d, r, [
      ...topics.slice(1),
      `${r.topicPrefix}.dlq.peer`,
      `${r.topicPrefix}.status`,
    ]);
  }
}

/** The report's lines: pgcdc source and sink events/s with 1 table and with 3 (medians of rounds). */
export function renderTables(res: BenchResult): string[] {
  const rounds = res.tables;
  if (!rounds || rounds.length === 0) return [];
  const one = res.pipelines.find((p) => p.name === 'pgcdc')?.rounds ?? [];
  const med = (xs: (number | undefined)[]) => median(xs.filter((x): x is number => x !== undefined));
  const line = (label: string, rs: { source: Measured; sink: Measured }[]) => [
    label,
    fmt(med(rs.map((x) => x.source.rate))),
    fmt(med(rs.map((x) => x.sink.rate))),
    String(rs.length),
  ];
  return [
    '## Several tables (events/s; median of rounds)',
    '',
    markdownTable(
      ['pgcdc', 'source: commit -> Kafka ack', 'sink: Kafka -> peer Postgres', 'rounds'],
      [line('1 table (users)', one), line('3 tables (users, groups, memberships)', rounds)],
    ),
    '',
  ];
}
