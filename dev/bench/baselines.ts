// Raw ceilings for the same workload, measured in the same run: how fast PostgreSQL decodes the
// slot (pg_recvlogical, pgoutput, to /dev/null), how fast Kafka takes records of the same size
// (Kafka's own ProducerPerformance, acks=all), and how fast the peer takes multi-row upserts of
// the same rows (no Kafka, no decoding). Ours is reported as a fraction of each.
import path from 'node:path';
import pg from 'pg';
import { findPgBinDir } from '../stack/prerequisites.ts';
import { createTableSql, quoteIdent } from '../../consumers/postgres/sql.ts';
import { loadContract } from '../../schemas/contract.ts';
import { withPg } from './env.ts';
import { spawnChild } from './proc.ts';

export interface RateResult {
  seconds: number;
  rate: number;
  note?: string;
}

/** Decodes the slot from its start to `endLsn` with pg_recvlogical (pgoutput) into /dev/null. */
export async function recvlogicalRate(
  sourceUrl: string,
  slot: string,
  publication: string,
  endLsn: string,
  events: number,
): Promise<RateResult> {
  const bin = path.join(findPgBinDir() ?? '/usr/lib/postgresql/15/bin', 'pg_recvlogical');
  const t0 = performance.now();
  const child = spawnChild('pg_recvlogical', bin, [
    '-d',
    sourceUrl,
    '--slot',
    slot,
    '--start',
    '-o',
    'proto_version=1',
    '-o',
    `publication_names=${publication}`,
    '-E',
    endLsn,
    '--no-loop',
    '-f',
    '/dev/null',
  ]);
  const timer = setTimeout(() => void child.stop('SIGKILL'), 300_000);
  const code = await child.exited;
  clearTimeout(timer);
  const seconds = (performance.now() - t0) / 1000;
  if (code !== 0) throw new Error(`pg_recvlogical exited with ${code}: ${child.tail(5)}`);
  return { seconds, rate: events / seconds };
}

/** org.apache.kafka.tools.ProducerPerformance: `records` records of `recordSize` bytes, acks=all. */
export async function kafkaProducerPerfRate(
  toolsLibs: string,
  brokers: string[],
  topic: string,
  records: number,
  recordSize: number,
): Promise<RateResult> {
  const child = spawnChild('ProducerPerformance', 'java', [
    '-Xmx256m',
    '-XX:+UseG1GC',
    '-cp',
    `${toolsLibs}/*`,
    'org.apache.kafka.tools.ProducerPerformance',
    '--topic',
    topic,
    '--num-records',
    String(records),
    '--record-size',
    String(recordSize),
    '--throughput',
    '-1',
    '--producer-props',
    `bootstrap.servers=${brokers.join(',')}`,
    'acks=all',
  ]);
  const code = await child.exited;
  const out = child.tail(50);
  const r = parseProducerPerformance(out);
  if (code !== 0 || !r) throw new Error(`ProducerPerformance failed (${code}): ${out.slice(-800)}`);
  return r;
}

/**
 * The run's figure from ProducerPerformance's output: its LAST "records sent" line, the summary
 * over all records. The lines before it are the progress reports of each 5-second window.
 */
export function parseProducerPerformance(out: string): RateResult | undefined {
  // "100000 records sent, 52910.052910 records/sec (25.83 MB/sec), 512.34 ms avg latency, ..."
  const all = [
    ...out.matchAll(
      /(\d+) records sent, ([\d.]+) records\/sec \(([\d.]+) MB\/sec\), ([\d.]+) ms avg latency/g,
    ),
  ];
  const m = all.at(-1);
  if (!m) return undefined;
  const rate = Number(m[2]);
  return { seconds: Number(m[1]) / rate, rate, note: `${m[3]} MB/s, ${m[4]} ms avg latency` };
}

/**
 * The source table's rows upserted into a fresh peer-shaped table, `batch` rows per statement and
 * transaction, with the same position guard our sink uses (one connection).
 */
export async function rawUpsertRate(sourceUrl: string, peerUrl: string, batch = 500): Promise<RateResult> {
  const contract = loadContract();
  const table = {
    schema: 'public',
    table: 'bench_raw_upsert',
    columns: contract.columns,
    keyColumns: contract.keyColumns,
  };
  const rows = await withPg(sourceUrl, async (c) => {
    const r = await c.query<Record<string, string | null>>({
      text: `SELECT ${contract.columns.map((col) => `${quoteIdent(col.name)}::text`).join(', ')} FROM public.users ORDER BY id`,
      rowMode: 'array',
    } as pg.QueryConfig);
    return r.rows as unknown as (string | null)[][];
  });
  const names = [...contract.columns.map((c) => c.name), '_pgcdc_lsn', '_pgcdc_seq', '_pgcdc_event_id'];
  const types = [...contract.columns.map((c) => c.sqlType), 'bigint', 'bigint', 'text'];
  const updates = names
    .filter((n) => !contract.keyColumns.includes(n))
    .map((n) => `${quoteIdent(n)} = EXCLUDED.${quoteIdent(n)}`)
    .join(', ');
  return withPg(peerUrl, async (c) => {
    await c.query(`DROP TABLE IF EXISTS public.bench_raw_upsert`);
    await c.query(createTableSql(table));
    const t0 = performance.now();
    for (let i = 0; i < rows.length; i += batch) {
      const part = rows.slice(i, i + batch);
      const values: unknown[] = [];
      const tuples = part.map((row, j) => {
        const vals = [...row, String(1000 + i + j), '0', `raw-${i + j}`];
        return `(${vals.map((v, k) => (values.push(v), `$${values.length}::${types[k]}`)).join(', ')})`;
      });
      await c.query(
        `INSERT INTO public.bench_raw_upsert AS t (${names.map(quoteIdent).join(', ')}) VALUES ${tuples.join(', ')} ` +
          `ON CONFLICT (${contract.keyColumns.map(quoteIdent).join(', ')}) DO UPDATE SET ${updates} ` +
          `WHERE (t._pgcdc_lsn, t._pgcdc_seq) < (EXCLUDED._pgcdc_lsn, EXCLUDED._pgcdc_seq)`,
        values,
      );
    }
    const seconds = (performance.now() - t0) / 1000;
    await c.query(`DROP TABLE public.bench_raw_upsert`);
    return { seconds, rate: rows.length / seconds, note: `${rows.length} rows, ${batch} per statement` };
  });
}
