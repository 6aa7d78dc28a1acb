// The comparison for the MariaDB sink (Debezium's first round, after its Postgres sink phase): a
// Debezium JDBC sink connector on the round's full Debezium topic (the same seeded workload our
// mysql sink reads in its round), writing into a fresh database of the stack's MariaDB, in a
// Connect worker of its own (the first bench run had it in the round's worker: afterwards that
// worker's Postgres JDBC sink failed with "Unable to find server array type for provided name
// longtext", MySQL's text type: the dialects share state within one JVM). The table is created first with the types our sink
// gives the same columns plus a `bench_synced_at` stamped by MariaDB on every insert and update
// (DEFAULT / ON UPDATE CURRENT_TIMESTAMP(6)), so events/s is measured the same way as ours: from
// the first to the last row applied. Connector defaults (upsert, deletes on, batch 500), except
// that the `tags` array is left out: Debezium's MySQL/MariaDB dialect has no mapping for ARRAY
// (the connector fails on it). Its TOAST-unchanged bio arrives as Debezium's placeholder text and
// is written as such (Debezium's documented behaviour). A failure is recorded, never fatal.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { loadContract } from '../../schemas/contract.ts';
import { mysqlColumnType } from '../../consumers/mysql/types.ts';
import type { BenchContext } from './context.ts';
import { DebeziumDriver } from './debezium-driver.ts';
import type { Round } from './driver.ts';
import { groupPosition } from './env.ts';
import { follow } from './follow.ts';
import { freshMariaDb, mariadbCpu, withMysql } from './mysql-phase.ts';
import { CpuMeter } from './proc.ts';
import { measured } from './result.ts';

/** Contract columns the JDBC sink's MySQL dialect cannot write (Connect ARRAY). */
const LEFT_OUT = ['tags'];

function createSql(): string {
  const contract = loadContract();
  const cols = contract.columns.map(
    (c) =>
      `\`${c.name}\` ${mysqlColumnType(c, contract.keyColumns.includes(c.name))}${c.nullable || LEFT_OUT.includes(c.name) ? ' NULL' : ' NOT NULL'}`,
  );
  cols.push(
    '`bench_synced_at` DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)',
    `PRIMARY KEY (${contract.keyColumns.map((k) => `\`${k}\``).join(', ')})`,
  );
  return `CREATE TABLE users (${cols.join(', ')}) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`;
}

export async function debeziumMysqlPhase(
  ctx: BenchContext,
  d: DebeziumDriver,
  r: Round,
  events: number,
  expected: number,
): Promise<void> {
  const name = `${r.id}-maria`;
  const dir = path.join(ctx.dir, 'debezium-mariadb');
  mkdirSync(dir, { recursive: true });
  const worker = new DebeziumDriver({ settings: ctx.settings, urls: ctx.urls, dir, log: ctx.say });
  const db = await freshMariaDb(ctx, `bench_${r.id}`);
  try {
    await withMysql(db.url, (c) => c.query(createSql()));
    await worker.start();
    const server = mariadbCpu(ctx);
    const u = new URL(db.url);
    const topic = d.topic(r);
    await worker.addConnector(name, {
      'connector.class': 'io.debezium.connector.jdbc.JdbcSinkConnector',
      'tasks.max': '1',
      topics: topic,
      'connection.url': `jdbc:mariadb://${u.hostname}:${u.port || '3306'}${u.pathname}`,
      'connection.username': decodeURIComponent(u.username || 'root'),
      'connection.password': decodeURIComponent(u.password),
      'insert.mode': 'upsert',
      'delete.enabled': 'true',
      'primary.key.mode': 'record_key',
      'schema.evolution': 'basic',
      'collection.name.format': 'users',
      'field.exclude.list': LEFT_OUT.map((f) => `${topic}:${f}`).join(','),
    });
    const f = await follow(
      'Debezium JDBC sink into MariaDB catch-up',
      () => groupPosition(ctx.admin, `connect-${name}`, topic),
      expected,
      () => new CpuMeter(worker.processes()),
      async () => (await worker.failures()).join('; ') || undefined,
      { timeoutMs: 900_000, intervalMs: 200 },
    );
    const [w] = await withMysql(db.url, async (c) => {
      const [rows] = await c.query<mysql.RowDataPacket[]>(
        'SELECT TIMESTAMPDIFF(MICROSECOND, MIN(bench_synced_at), MAX(bench_synced_at)) AS us FROM users',
      );
      return rows;
    });
    const seconds = w?.us ? Number(w.us) / 1e6 : undefined;
    const m = {
      ...measured(seconds ? events / seconds : undefined, seconds, f.cpu, events),
      mariadbCpuSeconds: server(),
    };
    ctx.result.mysql = {
      ...ctx.result.mysql,
      debezium: { ...m, note: `${worker.describe()}; ${LEFT_OUT.join(', ')} left out` },
    };
    ctx.say(
      `  Debezium JDBC sink into MariaDB: ${Math.round(m.rate ?? 0)} events/s, ${m.cpuSeconds} CPU s (Connect worker) + MariaDB ${m.mariadbCpuSeconds} CPU s`,
    );
  } catch (err) {
    ctx.result.baselines.errors.push(`debezium mariadb: ${(err as Error).message}`);
    ctx.say(`  Debezium JDBC sink into MariaDB failed: ${(err as Error).message}`);
  } finally {
    await worker.close().catch(() => undefined);
    await db.drop();
  }
}
