// A PostgreSQL cluster of a test's own (initdb + pg_ctl in a temp folder, on a free port), for
// server settings the shared stack must not get; and freePort() for any server a test starts.
import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../dev/stack/ports.ts';
import { findPgBinDir } from '../../dev/stack/prerequisites.ts';

const execFileP = promisify(execFile);
const IS_ROOT = process.getuid?.() === 0;

/** A port nothing listens on (yet) on 127.0.0.1, outside the ephemeral range (dev/stack/ports.ts). */
export { freePort };

/**
 * Runs a server binary (as `postgres` when root); a failure says which and its stderr. Killed
 * after two minutes (initdb and pg_ctl -w finish in seconds; a hang fails naming the binary).
 */
async function asPostgres(cmd: string, args: string[]): Promise<string> {
  const [c, a] = IS_ROOT ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
  try {
    return (await execFileP(c, a, { maxBuffer: 16 << 20, timeout: 120_000, killSignal: 'SIGKILL' })).stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${path.basename(cmd)} failed: ${(e.stderr ?? e.message).trim()}`, { cause: err });
  }
}

export interface OwnCluster {
  port: number;
  /** superuser URL of database `db` */
  url(db?: string): string;
  /** the last `lines` lines of the server's log (for a failure message) */
  logTail(lines?: number): string;
  /** immediate shutdown, then the folder is removed */
  stop(): Promise<void>;
}

/**
 * initdb (trust auth, UTF8, no locale, plus `initdb` options) and pg_ctl start on a free port of
 * 127.0.0.1 without a Unix socket, with the given server settings (`name=value`).
 */
export async function startOwnCluster(opts: {
  /** folder name prefix under /var/tmp */
  prefix: string;
  initdb?: string[];
  settings: string[];
}): Promise<OwnCluster> {
  const bin = findPgBinDir();
  if (!bin) throw new Error('PostgreSQL server binaries not found (apt-get install postgresql)');
  // As root the server runs as `postgres`, which must reach the folder: /var/tmp, not a 0700 $TMPDIR.
  const dir = mkdtempSync(path.join('/var/tmp', opts.prefix));
  if (IS_ROOT) {
    const uid = Number((await execFileP('id', ['-u', 'postgres'])).stdout.trim());
    const gid = Number((await execFileP('id', ['-g', 'postgres'])).stdout.trim());
    chownSync(dir, uid, gid);
  }
  const dataDir = path.join(dir, 'data');
  const port = await freePort();
  const initdb = ['-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-locale', ...(opts.initdb ?? [])];
  await asPostgres(path.join(bin, 'initdb'), ['-D', dataDir, ...initdb]);
  const serverOpts = [
    `-p ${port}`,
    '-c listen_addresses=127.0.0.1',
    "-c unix_socket_directories=''",
    ...opts.settings.map((s) => `-c ${s}`),
  ].join(' ');
  const log = path.join(dir, 'postgres.log');
  await asPostgres(path.join(bin, 'pg_ctl'), [
    '-D',
    dataDir,
    '-l',
    log,
    '-w',
    '-t',
    '60',
    '-o',
    serverOpts,
    'start',
  ]);
  return {
    port,
    url: (db = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${db}`,
    logTail: (lines = 40) =>
      existsSync(log)
        ? readFileSync(log, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
        : '(no server log)',
    async stop() {
      await asPostgres(path.join(bin, 'pg_ctl'), ['-D', dataDir, '-m', 'immediate', '-w', 'stop']).catch(
        () => undefined,
      );
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
