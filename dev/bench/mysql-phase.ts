// The MariaDB phase of the benchmark (first pipeline's first round, with the baselines): our
// `mysql` sink started on the round's full topic, writing into a fresh database of the stack's
// MariaDB; events/s from the first to the last row applied there (its own _pgcdc_synced_at), the
// same measure as the Postgres peer's. Beside it the raw baseline of the same rows: the source
// table copied by a plain script with multi-row INSERT ... ON DUPLICATE KEY UPDATE (500 rows per
// statement, the position guard, no delete markers). A failure is recorded, never fatal.
import { readFileSync, writeFileSync } from 'node:fs';
import mysql from 'mysql2/promise';
import { parse, stringify } from 'yaml';
import { groupFor, KafkaSchema } from '../../pipeline/config/schema.ts';
import { loadContract } from '../../schemas/contract.ts';
import type { BenchContext } from './context.ts';
import type { Round } from './driver.ts';
import { groupPosition, withPg } from './env.ts';
import { follow } from './follow.ts';
import type { PgcdcDriver } from './pgcdc-driver.ts';
import { CpuMeter, spawnPgcdc } from './proc.ts';
import { measured, type Measured, type MysqlBenchResult } from './result.ts';

const TARGET = 'maria';

async function withMysql<T>(url: string, fn: (c: mysql.Connection) => Promise<T>): Promise<T> {
  const c = await mysql.createConnection({ uri: url, supportBigNumbers: true, dateStrings: true });
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

export async function mysqlPhase(
  ctx: BenchContext,
  d: PgcdcDriver,
  r: Round,
  events: number,
  expected: number,
): Promise<void> {
  const db = `bench_${r.id}`.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 60);
  const url = ctx.urls.mysqlPeerUrl.replace(/\/[^/]*$/, `/${db}`);
  await withMysql(ctx.urls.mariadbAdminUrl, (c) =>
    c.query(`CREATE DATABASE \`${db}\` CHARACTER SET utf8mb4`),
  );
  const out: MysqlBenchResult = {};
  try {
    out.sink = await sinkRate(ctx, d, r, url, events, expected);
    ctx.say(`  MariaDB sink: ${Math.round(out.sink.rate ?? 0)} events/s, ${out.sink.cpuSeconds} CPU s`);
    out.raw = await rawRate(r.sourceUrl, url);
    ctx.say(
      `  baseline MariaDB multi-row INSERT ... ON DUPLICATE KEY UPDATE: ${Math.round(out.raw.rate)} rows/s`,
    );
  } catch (err) {
    ctx.result.baselines.errors.push(`mariadb: ${(err as Error).message}`);
    ctx.say(`  MariaDB phase failed: ${(err as Error).message}`);
  } finally {
    ctx.result.mysql = out;
    await withMysql(ctx.urls.mariadbAdminUrl, (c) => c.query(`DROP DATABASE IF EXISTS \`${db}\``)).catch(
      () => undefined,
    );
  }
}

async function sinkRate(
  ctx: BenchContext,
  d: PgcdcDriver,
  r: Round,
  url: string,
  events: number,
  expected: number,
): Promise<Measured> {
  const file = d.configFile(r).replace(/\.yaml$/, '-maria.yaml');
  const raw = parse(readFileSync(d.configFile(r), 'utf8')) as { targets: unknown[] };
  raw.targets = [{ name: TARGET, type: 'mysql', url }];
  writeFileSync(file, stringify(raw));
  const child = spawnPgcdc(
    'pgcdc consume maria',
    ['consume', '--target', TARGET, '--config', file],
    `${file}.log`,
  );
  try {
    const kafka = KafkaSchema.parse({ brokers: ctx.urls.kafkaBrokers, topicPrefix: r.topicPrefix });
    const f = await follow(
      'MariaDB sink catch-up',
      () => groupPosition(ctx.admin, groupFor(kafka, { name: TARGET }), d.topic(r)),
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
  } finally {
    await child.stop();
  }
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
    return { seconds, rate: rows.length / seconds, note: `${rows.length} rows, ${batch} per statement` };
  });
}
