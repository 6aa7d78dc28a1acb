// The local stack as one unit: `up` installs what is missing and starts PostgreSQL, Kafka, the
// schema registry and MariaDB (the mysql targets' peer) (reusing any part already running); `down` stops, by recorded pid, what runs.
// A failed `up` stops the parts it started itself, so nothing half-started is left behind.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { StackError } from '../../pipeline/errors.ts';
import {
  installMariadb,
  mariadbPaths,
  mariadbPid,
  mariadbReady,
  startMariadb,
  stopMariadb,
} from './mariadb.ts';
import { installKafka, kafkaPaths, kafkaReady, startKafka, stopKafka } from './kafka.ts';
import { checkPrerequisites, findPgBinDir } from './prerequisites.ts';
import { pgPaths, postgresPid, postgresReady, startPostgres, stopPostgres } from './postgres.ts';
import { isAlive, readPid } from './process.ts';
import { installRegistry, registryPaths, registryReady, startRegistry, stopRegistry } from './registry.ts';
import { PROJECT_ROOT, stackUrls, type StackSettings, type StackUrls } from './settings.ts';

export type Component = 'postgres' | 'kafka' | 'registry' | 'mariadb';

export interface UpResult {
  urls: StackUrls;
  /** Components this call started (the rest were already running). */
  started: Component[];
}

export async function stackUp(
  s: StackSettings,
  log: (m: string) => void = () => undefined,
): Promise<UpResult> {
  const pre = await checkPrerequisites(log);
  // Downloads first (in parallel), so a network failure leaves nothing running.
  await Promise.all([installKafka(s, log), installRegistry(s, log), installMariadb(s, log)]);
  const before = await stackStatus(s);
  const started: Component[] = [];
  try {
    if (!before.postgres.running) {
      log('starting postgres ...');
      await startPostgres(s, pre.pgBinDir, log);
      started.push('postgres');
    }
    await createSourceTable(s);
    // Kafka, the registry and MariaDB are independent once Postgres (the registry's storage) is up.
    const [k, r, m] = await Promise.allSettled([
      before.kafka.running
        ? Promise.resolve(false)
        : (log('starting kafka ...'), startKafka(s, log).then(() => true)),
      before.registry.running
        ? Promise.resolve(false)
        : (log('starting schema registry ...'), startRegistry(s, log).then(() => true)),
      before.mariadb.running
        ? Promise.resolve(false)
        : (log('starting mariadb ...'), startMariadb(s, log).then(() => true)),
    ]);
    if (k.status === 'fulfilled' && k.value) started.push('kafka');
    if (r.status === 'fulfilled' && r.value) started.push('registry');
    if (m.status === 'fulfilled' && m.value) started.push('mariadb');
    if (k.status === 'rejected') throw k.reason;
    if (r.status === 'rejected') throw r.reason;
    if (m.status === 'rejected') throw m.reason;
  } catch (err) {
    log(`start failed; stopping what this run started: ${started.join(', ') || 'nothing'}`);
    await stackDown(s, started);
    throw err;
  }
  return { urls: stackUrls(s), started };
}

/** Stops the given components (default: all), in reverse dependency order. */
export async function stackDown(
  s: StackSettings,
  only: Component[] = ['postgres', 'kafka', 'registry', 'mariadb'],
): Promise<void> {
  if (only.includes('mariadb')) await stopMariadb(s);
  if (only.includes('registry')) await stopRegistry(s);
  if (only.includes('kafka')) await stopKafka(s);
  if (only.includes('postgres')) await stopPostgres(s, findPgBinDir());
}

export interface ComponentStatus {
  running: boolean;
  ready: boolean;
  pid: number | undefined;
  url: string;
  log: string;
}

export async function stackStatus(s: StackSettings): Promise<Record<Component, ComponentStatus>> {
  const urls = stackUrls(s);
  const pgp = await pgPaths(s);
  const pgPid = postgresPid(pgp);
  const kPid = readPid(kafkaPaths(s).pidFile);
  const rPid = readPid(registryPaths(s).pidFile);
  const mPid = mariadbPid(s);
  const [pgReady, kReady, rReady, mReady] = await Promise.all([
    pgPid ? postgresReady(s) : false,
    isAlive(kPid) ? kafkaReady(s) : false,
    isAlive(rPid) ? registryReady(s) : false,
    mPid ? mariadbReady(s) : false,
  ]);
  return {
    postgres: {
      running: pgPid !== undefined,
      ready: pgReady,
      pid: pgPid,
      url: urls.sourceUrl,
      log: pgp.logFile,
    },
    kafka: {
      running: isAlive(kPid),
      ready: kReady,
      pid: isAlive(kPid) ? kPid : undefined,
      url: urls.kafkaBrokers.join(','),
      log: kafkaPaths(s).logFile,
    },
    registry: {
      running: isAlive(rPid),
      ready: rReady,
      pid: isAlive(rPid) ? rPid : undefined,
      url: urls.registryUrl,
      log: registryPaths(s).logFile,
    },
    mariadb: {
      running: mPid !== undefined,
      ready: mReady,
      pid: mPid,
      url: urls.mysqlPeerUrl,
      log: mariadbPaths(s).logFile,
    },
  };
}

export const USERS_DDL_FILE = path.join(PROJECT_ROOT, 'schemas/users.sql');

/** Creates the `users` table in the source database (idempotent). */
export async function createSourceTable(s: StackSettings, url = stackUrls(s).sourceUrl): Promise<void> {
  await createUsersTable(url);
}

/** Creates the `users` table from schemas/users.sql in the database at `url` (idempotent). */
export async function createUsersTable(url: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  try {
    await c.connect();
    await c.query(readFileSync(USERS_DDL_FILE, 'utf8'));
  } catch (err) {
    throw new StackError(`creating the users table failed: ${(err as Error).message}`, { cause: err });
  } finally {
    await c.end().catch(() => undefined);
  }
}
