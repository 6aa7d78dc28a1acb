// The MariaDB phase of the benchmark (first pipeline's first round, with the baselines): our
// `mysql` sink started on the round's full topic, writing into a fresh database of the stack's
// MariaDB; events/s from the first to the last row applied there (its own _pgcdc_synced_at), the
// same measure as the Postgres peer's. Beside it:
// - the raw baseline of the same rows: the source table copied by a plain script with multi-row
//   INSERT ... ON DUPLICATE KEY UPDATE (500 rows per statement, the position guard, no markers);
// - with PGCDC_BENCH_MYSQL_BEFORE=<dir> (a checkout of an earlier commit, with node_modules), the
//   same sink run from that checkout too, each into its own database, alternated (before, after,
//   before, after; medians): before/after in one run; PGCDC_BENCH_MYSQL_BEFORE_TARGET=<json> adds
//   keys to the before runs' target (e.g. '{"applyConnections":1}' with this checkout as before:
//   one setting against the default, same code); PGCDC_BENCH_MYSQL_PAIRS=<n> alternates n pairs
//   (default 2);
// - what each run asked of MariaDB: statements by kind and row operations per 1,000 events (the
//   server's global status counters, mariadb-counters.ts), and the same for the raw baseline;
// - MariaDB's own CPU seconds beside the sink's (the server does most of the work);
// - with latency phases on (--latency-seconds > 0), end-to-end latency into MariaDB at 1,000
//   changes/s: the round's source keeps running, our sink too, the workload is written at that
//   rate; per row, the source commit time (updated_at) against the row's _pgcdc_synced_at.
// Returns the changes it wrote (the round's later phases count them). A failure is recorded,
// never fatal.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { parse, stringify } from 'yaml';
import { groupFor, KafkaSchema } from '../../pipeline/config/schema.ts';
import { loadContract } from '../../schemas/contract.ts';
import { PROJECT_ROOT } from '../stack/settings.ts';
import type { BenchContext } from './context.ts';
import type { Round } from './driver.ts';
import { groupPosition, withPg } from './env.ts';
import { follow } from './follow.ts';
import type { PgcdcDriver } from './pgcdc-driver.ts';
import { mariadbPaths } from '../stack/mariadb.ts';
import { readPid } from '../stack/process.ts';
import { CpuMeter, cpuSeconds, spawnPgcdc, type Child } from './proc.ts';
import { renderProfileGroups } from './profile-summary.ts';
import { measured, type Measured, type MysqlBenchResult } from './result.ts';
import { diffHistogram, histogramQuantileMs, scrapeHistogram } from './scrape.ts';
import { median, percentile } from './stats.ts';
import { emptyCounts, kafkaMessagesFor, type OpCounts } from './workload.ts';
import type { LoadWriter } from './writer.ts';
import { countersLine, mariadbCounters } from './mariadb-counters.ts';

const TARGET = 'maria';
/** the issue's fixed rate for the MariaDB latency figure */
const LATENCY_RATE = 1000;

export async function withMysql<T>(url: string, fn: (c: mysql.Connection) => Promise<T>): Promise<T> {
  const c = await mysql.createConnection({ uri: url, supportBigNumbers: true, dateStrings: true });
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** A fresh utf8mb4 database of the stack's MariaDB for this round; its URL and a drop. */
export async function freshMariaDb(
  ctx: BenchContext,
  name: string,
): Promise<{ url: string; drop: () => Promise<void> }> {
  const db = name.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 60);
  await withMysql(ctx.urls.mariadbAdminUrl, (c) =>
    c.query(`CREATE DATABASE \`${db}\` CHARACTER SET utf8mb4`),
  );
  return {
    url: ctx.urls.mysqlPeerUrl.replace(/\/[^/]*$/, `/${db}`),
    drop: () =>
      withMysql(ctx.urls.mariadbAdminUrl, (c) => c.query(`DROP DATABASE IF EXISTS \`${db}\``)).then(
        () => undefined,
        () => undefined,
      ),
  };
}

export async function mysqlPhase(
  ctx: BenchContext,
  d: PgcdcDriver,
  r: Round,
  writer: LoadWriter,
  events: number,
  expected: number,
): Promise<OpCounts> {
  const out: MysqlBenchResult = {};
  const drops: (() => Promise<void>)[] = [];
  let written = emptyCounts();
  let ours: Child | undefined;
  try {
    const before = process.env.PGCDC_BENCH_MYSQL_BEFORE;
    // before/after alternated (before, after, before, after): the shared machine's load drifts
    const pairs = before ? Math.max(1, Number(process.env.PGCDC_BENCH_MYSQL_PAIRS ?? 2)) : 1;
    const runs: { before: SinkRun[]; after: SinkRun[] } = { before: [], after: [] };
    let url = '';
    for (let i = 1; i <= pairs; i++) {
      if (before) {
        const run = await sinkRun(ctx, d, r, `${TARGET}_before${i}`, path.resolve(before), events, expected);
        await run.child.stop();
        runs.before.push(run);
        ctx.say(`  MariaDB sink before (${before}): ${line(run.m)}`);
      }
      await ours?.stop();
      const run = await sinkRun(
        ctx,
        d,
        r,
        pairs > 1 ? `${TARGET}_after${i}` : TARGET,
        PROJECT_ROOT,
        events,
        expected,
      );
      ours = run.child;
      url = run.url;
      runs.after.push(run);
      ctx.say(`  MariaDB sink: ${line(run.m)}`);
    }
    drops.push(...[...runs.before, ...runs.after].map((x) => x.drop));
    out.sink = medianOf(runs.after.map((x) => x.m));
    if (pairs > 1) out.sinkRuns = runs.after.map((x) => x.m);
    if (before)
      out.before = {
        ...medianOf(runs.before.map((x) => x.m)),
        tree: before,
        runs: runs.before.map((x) => x.m),
      };
    const server = mariadbCpu(ctx);
    const counted = await mariadbCounters(ctx.urls.mariadbAdminUrl);
    const { rows, ...raw } = await rawRate(r.sourceUrl, url);
    out.raw = { ...raw, mariadbCpuSeconds: server() };
    ctx.say(
      `  baseline MariaDB multi-row INSERT ... ON DUPLICATE KEY UPDATE: ${Math.round(out.raw.rate)} rows/s, MariaDB ${out.raw.mariadbCpuSeconds} CPU s; ${countersLine(await counted(rows))} rows`,
    );
    if (ctx.opts.latencySeconds > 0 && ours) {
      const lat = await latencyAt(ctx, d, r, writer, ours, url, runs.after.at(-1)!.name, expected);
      written = lat.counts;
      out.latency = lat.result;
      const l = lat.result;
      ctx.say(
        `  MariaDB latency ${LATENCY_RATE}/s: wrote ${Math.round(l.writtenRate)}/s, p50 ${l.p50?.toFixed(1)} p99 ${l.p99?.toFixed(1)} max ${l.max?.toFixed(1)} ms (${l.rows} rows)`,
      );
    }
  } catch (err) {
    ctx.result.baselines.errors.push(`mariadb: ${(err as Error).message}`);
    ctx.say(`  MariaDB phase failed: ${(err as Error).message}`);
  } finally {
    ctx.result.mysql = { ...ctx.result.mysql, ...out };
    await ours?.stop();
    for (const drop of drops) await drop();
    if (ctx.opts.profile) writeSinkProfiles(ctx);
  }
  return written;
}

/** profiles-mariadb.md: the sink runs' V8 profiles, before and after apart (profile-summary.ts). */
function writeSinkProfiles(ctx: BenchContext): void {
  const text = renderProfileGroups(path.join(ctx.dir, 'profiles'), [
    { title: `MariaDB sink, before`, match: new RegExp(`-${TARGET}_before\\d+\\.yaml$`) },
    { title: `MariaDB sink`, match: new RegExp(`-${TARGET}(_after\\d+)?\\.yaml$`) },
  ]);
  if (!text) return;
  writeFileSync(path.join(ctx.dir, 'profiles-mariadb.md'), text);
  ctx.say(`  MariaDB sink profiles: ${path.join(ctx.dir, 'profiles-mariadb.md')}`);
}

type MysqlMeasured = Measured & { mariadbCpuSeconds?: number | undefined };

interface SinkRun {
  name: string;
  url: string;
  child: Child;
  m: MysqlMeasured;
  drop: () => Promise<void>;
}

const line = (m: MysqlMeasured) =>
  `${Math.round(m.rate ?? 0)} events/s, ${m.cpuSeconds} CPU s + MariaDB ${m.mariadbCpuSeconds} CPU s`;

function medianOf(ms: MysqlMeasured[]): MysqlMeasured {
  const med = (f: (m: MysqlMeasured) => number | undefined) => {
    const v = ms.map(f).filter((x): x is number => x !== undefined);
    return v.length ? Math.round(median(v)! * 100) / 100 : undefined;
  };
  return {
    rate: med((m) => m.rate),
    seconds: med((m) => m.seconds),
    cpuSeconds: med((m) => m.cpuSeconds),
    cpuPer100k: med((m) => m.cpuPer100k),
    mariadbCpuSeconds: med((m) => m.mariadbCpuSeconds),
  };
}

/** CPU seconds the stack's MariaDB server used from now until the returned function is called. */
export function mariadbCpu(ctx: BenchContext): () => number | undefined {
  const pid = readPid(mariadbPaths(ctx.settings).pidFile);
  const start = pid ? cpuSeconds(pid) : undefined;
  return () => {
    const end = pid ? cpuSeconds(pid) : undefined;
    return start !== undefined && end !== undefined ? Math.round((end - start) * 100) / 100 : undefined;
  };
}

/** A fresh database, our sink (from the checkout at `root`) on the round's full topic, its rate. */
async function sinkRun(
  ctx: BenchContext,
  d: PgcdcDriver,
  r: Round,
  name: string,
  root: string,
  events: number,
  expected: number,
): Promise<SinkRun> {
  const db = await freshMariaDb(ctx, `bench_${r.id}_${name}`);
  const profiles = ctx.opts.profile ? path.join(ctx.dir, 'profiles') : undefined;
  const counted = await mariadbCounters(ctx.urls.mariadbAdminUrl);
  const child = startSink(d, r, db.url, name, root, profiles);
  try {
    const server = mariadbCpu(ctx);
    const m = await sinkRate(ctx, d, r, child, db.url, name, events, expected);
    const cpu = server();
    ctx.say(`  MariaDB sink ${name}: ${countersLine(await counted(events))} events`);
    return { name, url: db.url, child, m: { ...m, mariadbCpuSeconds: cpu }, drop: db.drop };
  } catch (err) {
    await child.stop();
    await db.drop();
    throw err;
  }
}

/** `pgcdc consume` of a mysql target `name` on the round's topic, from the checkout at `root`. */
function startSink(
  d: PgcdcDriver,
  r: Round,
  url: string,
  name: string,
  root: string,
  profileDir: string | undefined,
): Child {
  const file = d.configFile(r).replace(/\.yaml$/, `-${name}.yaml`);
  const raw = parse(readFileSync(d.configFile(r), 'utf8')) as { targets: unknown[] };
  const extra = name.includes('_before') ? process.env.PGCDC_BENCH_MYSQL_BEFORE_TARGET : undefined;
  raw.targets = [{ name, type: 'mysql', url, ...(extra ? (JSON.parse(extra) as object) : {}) }];
  writeFileSync(file, stringify(raw));
  // with --profile: a V8 CPU profile per sink run (profiles/<config>-<name>/), summarised in profiles-mariadb.md
  return spawnPgcdc(
    `pgcdc consume ${name}`,
    ['consume', '--target', name, '--config', file, '--metrics-port', '0'],
    `${file}.log`,
    profileDir,
    root,
  );
}

const groupOf = (ctx: BenchContext, r: Round, name: string) =>
  groupFor(KafkaSchema.parse({ brokers: ctx.urls.kafkaBrokers, topicPrefix: r.topicPrefix }), { name });

async function sinkRate(
  ctx: BenchContext,
  d: PgcdcDriver,
  r: Round,
  child: Child,
  url: string,
  name: string,
  events: number,
  expected: number,
): Promise<Measured> {
  const f = await follow(
    `MariaDB sink ${name} catch-up`,
    () => groupPosition(ctx.admin, groupOf(ctx, r, name), d.topic(r)),
    expected,
    () => new CpuMeter([child]),
    () => Promise.resolve(child.alive() ? undefined : `${child.name} exited:\n${child.tail(15)}`),
    { timeoutMs: 900_000, intervalMs: 200 },
  );
  const [w] = await withMysql(url, async (c) => {
    const [rows] = await c.query<mysql.RowDataPacket[]>(
      'SELECT TIMESTAMPDIFF(MICROSECOND, MIN(_pgcdc_synced_at), MAX(_pgcdc_synced_at)) AS us FROM users',
    );
    return rows;
  });
  const seconds = w?.us ? Number(w.us) / 1e6 : undefined;
  return measured(seconds ? events / seconds : undefined, seconds, f.cpu, events);
}

/** The workload at LATENCY_RATE for latencySeconds while the source and our sink run. */
async function latencyAt(
  ctx: BenchContext,
  d: PgcdcDriver,
  r: Round,
  writer: LoadWriter,
  child: Child,
  url: string,
  name: string,
  before: number,
) {
  // commit -> Kafka ack over the phase (the producer's histogram), to tell the source's share
  const metricsUrl = d.sourceMetricsUrl();
  const publish = () =>
    metricsUrl ? scrapeHistogram(metricsUrl, 'pgcdc_publish_latency_seconds') : Promise.resolve(undefined);
  const publishBefore = await publish();
  const w = await writer.run({ durationMs: ctx.opts.latencySeconds * 1000, rate: LATENCY_RATE });
  await follow(
    'MariaDB latency phase',
    () => groupPosition(ctx.admin, groupOf(ctx, r, name), d.topic(r)),
    before + kafkaMessagesFor(w.counts),
    () => new CpuMeter([child]),
    () => Promise.resolve(child.alive() ? undefined : `${child.name} exited:\n${child.tail(15)}`),
    { timeoutMs: 900_000, intervalMs: 250 },
  );
  const publishAfter = await publish();
  const pub = publishAfter && publishBefore ? diffHistogram(publishAfter, publishBefore) : undefined;
  if (pub)
    ctx.say(
      `  MariaDB latency phase: commit -> Kafka ack p50 <= ${histogramQuantileMs(pub, 0.5)} p99 <= ${histogramQuantileMs(pub, 0.99)} ms`,
    );
  const utc = (t: Date) => t.toISOString().replace('T', ' ').replace('Z', '');
  const ms = await withMysql(url, async (c) => {
    const [rows] = await c.query<mysql.RowDataPacket[]>(
      'SELECT TIMESTAMPDIFF(MICROSECOND, updated_at, _pgcdc_synced_at) AS us FROM users WHERE updated_at >= ? AND updated_at < ?',
      [utc(w.startedAt), utc(w.endedAt)],
    );
    return rows.map((x) => Number(x.us) / 1000);
  });
  return {
    counts: w.counts,
    result: {
      rate: LATENCY_RATE,
      writtenRate: w.events / w.seconds,
      rows: ms.length,
      p50: percentile(ms, 0.5),
      p95: percentile(ms, 0.95),
      p99: percentile(ms, 0.99),
      max: ms.length > 0 ? Math.max(...ms) : undefined,
    },
  };
}

/** The source rows in MySQL's forms (booleans 1/0, UTC DATETIME text, arrays as JSON), one query. */
function sourceSelect(): string {
  return loadContract()
    .columns.map((c) => {
      const col = `"${c.name}"`;
      switch (c.pgType) {
        case 'boolean':
          return `${col}::int`;
        case 'timestamptz':
          return `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')`;
        case 'text[]':
          return `to_json(${col})::text`;
        default:
          return `${col}::text`;
      }
    })
    .join(', ');
}

async function rawRate(sourceUrl: string, url: string, batch = 500) {
  const contract = loadContract();
  const rows = await withPg(sourceUrl, async (c) => {
    const r = await c.query({
      text: `SELECT ${sourceSelect()} FROM public.users ORDER BY id`,
      rowMode: 'array',
    });
    return r.rows as unknown[][];
  });
  const names = [...contract.columns.map((c) => c.name), '_pgcdc_lsn', '_pgcdc_seq', '_pgcdc_event_id'];
  const guard = '(_pgcdc_lsn, _pgcdc_seq) < (VALUES(_pgcdc_lsn), VALUES(_pgcdc_seq))';
  const sets = names
    .filter((n) => !contract.keyColumns.includes(n))
    .sort((a, b) => (a === '_pgcdc_lsn' ? 1 : b === '_pgcdc_lsn' ? -1 : 0))
    .map((n) => `\`${n}\` = IF(${guard}, VALUES(\`${n}\`), \`${n}\`)`)
    .join(', ');
  return withMysql(url, async (c) => {
    // the table the sink created (same types), emptied
    await c.query('CREATE TABLE bench_raw LIKE users');
    const t0 = performance.now();
    for (let i = 0; i < rows.length; i += batch) {
      const part = rows.slice(i, i + batch).map((row, j) => [...row, 1000 + i + j, 0, `raw-${i + j}`]);
      await c.query(
        `INSERT INTO bench_raw (${names.map((n) => `\`${n}\``).join(', ')}) VALUES ? ON DUPLICATE KEY UPDATE ${sets}`,
        [part],
      );
    }
    const seconds = (performance.now() - t0) / 1000;
    await c.query('DROP TABLE bench_raw');
    return {
      seconds,
      rate: rows.length / seconds,
      note: `${rows.length} rows, ${batch} per statement`,
      rows: rows.length,
    };
  });
}
