// Local PostgreSQL cluster for the stack: created with initdb in the state folder, wal_level=logical,
// loopback only, trust auth (a development stack). As root, the server runs as the `postgres` user.
import { createHash } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { StackError } from '../../pipeline/errors.ts';
import { execFileP, isAlive, tailFile, assertPortFree } from './process.ts';
import type { StackSettings } from './settings.ts';
import { stackUrls } from './settings.ts';

const IS_ROOT = process.getuid?.() === 0;

export interface PgPaths {
  dir: string;
  dataDir: string;
  logFile: string;
}

/** Where the cluster lives. As root the server runs as `postgres`, which must be able to reach it. */
export async function pgPaths(s: StackSettings): Promise<PgPaths> {
  let dir = path.join(s.stateDir, 'postgres');
  if (IS_ROOT) {
    mkdirSync(s.stateDir, { recursive: true });
    const reachable = await execFileP('runuser', ['-u', 'postgres', '--', 'test', '-x', s.stateDir]).then(
      () => true,
      () => false,
    );
    if (!reachable) {
      const tag = createHash('sha1').update(path.resolve(s.stateDir)).digest('hex').slice(0, 10);
      dir = path.join('/var/tmp', `pgcdc-${tag}`, 'postgres');
    }
  }
  return { dir, dataDir: path.join(dir, 'data'), logFile: path.join(dir, 'postgres.log') };
}

function asPgUser(cmd: string, args: string[]): [string, string[]] {
  return IS_ROOT ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
}

async function run(cmd: string, args: string[]): Promise<string> {
  const [c, a] = asPgUser(cmd, args);
  try {
    const { stdout } = await execFileP(c, a, { maxBuffer: 16 << 20 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new StackError(`${path.basename(cmd)} failed: ${(e.stderr ?? e.message).trim()}`, { cause: err });
  }
}

export function postgresPid(paths: PgPaths): number | undefined {
  const pidFile = path.join(paths.dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return undefined;
  const pid = Number.parseInt(readFileSync(pidFile, 'utf8').split('\n')[0] ?? '', 10);
  return isAlive(pid) ? pid : undefined;
}

export async function startPostgres(
  s: StackSettings,
  pgBinDir: string,
  log: (m: string) => void,
): Promise<number> {
  const paths = await pgPaths(s);
  const running = postgresPid(paths);
  if (running) return running;
  await assertPortFree('postgres', s.host, s.pgPort, 'PGCDC_STACK_PG_PORT');
  mkdirSync(paths.dir, { recursive: true });
  if (IS_ROOT) chownSync(paths.dir, ...(await pgUserIds()));
  if (!existsSync(path.join(paths.dataDir, 'PG_VERSION'))) {
    log(`initdb ${paths.dataDir}`);
    await run(path.join(pgBinDir, 'initdb'), [
      '-D',
      paths.dataDir,
      '-U',
      'postgres',
      '--auth=trust',
      '-E',
      'UTF8',
      '--no-locale',
    ]);
  }
  const opts = [
    `-p ${s.pgPort}`,
    `-c listen_addresses=${s.host}`,
    `-c unix_socket_directories=''`,
    '-c wal_level=logical',
    '-c max_replication_slots=32',
    '-c max_wal_senders=32',
    '-c max_connections=200',
    '-c shared_buffers=256MB',
    '-c max_slot_wal_keep_size=8GB',
    '-c wal_sender_timeout=30s',
    '-c track_commit_timestamp=on',
  ].join(' ');
  try {
    await run(path.join(pgBinDir, 'pg_ctl'), [
      '-D',
      paths.dataDir,
      '-l',
      paths.logFile,
      '-w',
      '-t',
      '60',
      '-o',
      opts,
      'start',
    ]);
  } catch (err) {
    throw new StackError(`postgres failed to start (log ${paths.logFile}):\n${tailFile(paths.logFile)}`, {
      cause: err,
    });
  }
  const pid = postgresPid(paths);
  if (!pid)
    throw new StackError(`postgres did not stay up (log ${paths.logFile}):\n${tailFile(paths.logFile)}`);
  await ensureDatabases(s);
  return pid;
}

async function pgUserIds(): Promise<[number, number]> {
  const { stdout: uid } = await execFileP('id', ['-u', 'postgres']);
  const { stdout: gid } = await execFileP('id', ['-g', 'postgres']);
  return [Number(uid.trim()), Number(gid.trim())];
}

export async function ensureDatabases(s: StackSettings): Promise<void> {
  const urls = stackUrls(s);
  const admin = new pg.Client({ connectionString: urls.adminUrl });
  await admin.connect();
  try {
    for (const db of [s.sourceDb, s.peerDb, s.registryDb]) {
      const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [db]);
      if (!rowCount) await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(db)}`);
    }
  } finally {
    await admin.end();
  }
}

export async function stopPostgres(s: StackSettings, pgBinDir: string | undefined): Promise<void> {
  const paths = await pgPaths(s);
  if (!postgresPid(paths) || !pgBinDir) return;
  await run(path.join(pgBinDir, 'pg_ctl'), ['-D', paths.dataDir, '-m', 'fast', '-w', '-t', '60', 'stop']);
}

export async function postgresReady(s: StackSettings): Promise<boolean> {
  const c = new pg.Client({ connectionString: stackUrls(s).adminUrl, connectionTimeoutMillis: 2000 });
  try {
    await c.connect();
    const r = await c.query<{ wal_level: string }>('SHOW wal_level');
    return r.rows[0]?.wal_level === 'logical';
  } catch {
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}
