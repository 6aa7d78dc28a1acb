// Local MariaDB server of the stack (the peer database of `mysql` targets): its own data directory
// under the stack's state folder (created with mariadb-install-db once), loopback only on
// PGCDC_STACK_MARIADB_PORT, utf8mb4, strict sql_mode, `root` without a password (a development
// stack, like the PostgreSQL one). Started detached with a pid file, stopped by that pid (SIGTERM:
// a clean InnoDB shutdown). Readiness = a query answers.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { StackError } from '../../pipeline/errors.ts';
import { installMariadb, type MariadbBinaries } from './mariadb-install.ts';
import {
  assertPortFree,
  execFileP,
  isAlive,
  readPid,
  startDaemon,
  stopPid,
  tailFile,
  waitFor,
} from './process.ts';
import { stackUrls, type StackSettings } from './settings.ts';

const IS_ROOT = process.getuid?.() === 0;
const START_TIMEOUT_MS = 90_000;

/** The sql_mode every stack server runs with: MySQL 8's default plus the strict extras. */
export const STRICT_SQL_MODE =
  'STRICT_TRANS_TABLES,STRICT_ALL_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION,NO_ZERO_DATE,NO_ZERO_IN_DATE';

export function mariadbPaths(s: StackSettings) {
  const dir = path.join(s.stateDir, 'mariadb');
  const sock = path.join(dir, 'mariadb.sock');
  // a unix socket path must fit in 108 bytes; a deep state folder gets one in the temp folder
  const tag = createHash('sha1').update(path.resolve(dir)).digest('hex').slice(0, 10);
  return {
    dir,
    dataDir: path.join(dir, 'data'),
    logFile: path.join(dir, 'mariadb.log'),
    pidFile: path.join(dir, 'mariadb.pid'),
    // the machine's temp folder, not a test run's (vitest.config.ts): the server may outlive it
    socket:
      sock.length < 100
        ? sock
        : path.join(process.env.PGCDC_SYSTEM_TMPDIR ?? tmpdir(), `pgcdc-mariadb-${tag}.sock`),
    /** the server's own temporary files (sorts, temporary tables), beside its data */
    tmpDir: path.join(dir, 'tmp'),
  };
}

export { installMariadb };

function env(bins: MariadbBinaries): NodeJS.ProcessEnv {
  if (!bins.libDir) return process.env;
  const ld = [bins.libDir, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':');
  return { ...process.env, LD_LIBRARY_PATH: ld };
}

async function initDataDir(bins: MariadbBinaries, dataDir: string, log: (m: string) => void) {
  log(`mariadb-install-db ${dataDir}`);
  try {
    await execFileP(
      bins.installDb,
      [
        '--no-defaults',
        `--basedir=${bins.baseDir}`,
        `--datadir=${dataDir}`,
        ...(IS_ROOT ? ['--user=root'] : []),
        '--auth-root-authentication-method=normal',
        '--skip-test-db',
      ],
      { env: env(bins), maxBuffer: 16 << 20 },
    );
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new StackError(`mariadb-install-db failed: ${(e.stderr || e.stdout || e.message).trim()}`, {
      cause: err,
    });
  }
}

export async function startMariadb(s: StackSettings, log: (m: string) => void): Promise<number> {
  const p = mariadbPaths(s);
  const running = readPid(p.pidFile);
  if (isAlive(running)) return running!;
  await assertPortFree('mariadb', s.host, s.mariadbPort, 'PGCDC_STACK_MARIADB_PORT');
  const bins = await installMariadb(s, log);
  mkdirSync(p.tmpDir, { recursive: true });
  if (!existsSync(path.join(p.dataDir, 'mysql'))) await initDataDir(bins, p.dataDir, log);
  const pid = startDaemon({
    name: 'mariadb',
    command: bins.server,
    args: [
      '--no-defaults',
      `--basedir=${bins.baseDir}`,
      `--datadir=${p.dataDir}`,
      `--lc-messages-dir=${path.join(bins.baseDir, 'share', 'mysql')}`,
      ...(IS_ROOT ? ['--user=root'] : []),
      `--bind-address=${s.host}`,
      `--port=${s.mariadbPort}`,
      `--socket=${p.socket}`,
      `--tmpdir=${p.tmpDir}`,
      `--pid-file=${path.join(p.dir, 'mariadbd.pid')}`,
      '--skip-name-resolve',
      '--character-set-server=utf8mb4',
      '--collation-server=utf8mb4_unicode_ci',
      `--sql-mode=${STRICT_SQL_MODE}`,
      '--default-time-zone=+00:00',
      '--innodb-buffer-pool-size=128M',
      '--innodb-log-file-size=64M',
      '--innodb-flush-log-at-trx-commit=2',
      '--max-connections=300',
      '--max-allowed-packet=64M',
    ],
    logFile: p.logFile,
    pidFile: p.pidFile,
    env: env(bins),
  });
  try {
    await waitFor(() => mariadbReady(s), {
      timeoutMs: START_TIMEOUT_MS,
      intervalMs: 300,
      what: `mariadb on ${s.host}:${s.mariadbPort}`,
      abortIf: () => (isAlive(pid) ? undefined : `mariadb exited during start-up`),
    });
    await ensureDatabase(s);
  } catch (err) {
    await stopPid(pid);
    throw new StackError(`mariadb failed to start (log ${p.logFile}):\n${tailFile(p.logFile)}`, {
      cause: err,
    });
  }
  return pid;
}

async function ensureDatabase(s: StackSettings): Promise<void> {
  const c = await mysql.createConnection({ uri: stackUrls(s).mariadbAdminUrl });
  try {
    await c.query(
      `CREATE DATABASE IF NOT EXISTS \`${s.peerDb}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`,
    );
  } finally {
    await c.end().catch(() => undefined);
  }
}

export async function stopMariadb(s: StackSettings): Promise<void> {
  await stopPid(readPid(mariadbPaths(s).pidFile), 60_000);
}

export function mariadbPid(s: StackSettings): number | undefined {
  const pid = readPid(mariadbPaths(s).pidFile);
  return isAlive(pid) ? pid : undefined;
}

export async function mariadbReady(s: StackSettings): Promise<boolean> {
  let c: mysql.Connection | undefined;
  try {
    c = await mysql.createConnection({ uri: stackUrls(s).mariadbAdminUrl, connectTimeout: 2000 });
    await c.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await c?.end().catch(() => undefined);
  }
}
