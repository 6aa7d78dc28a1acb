// Helpers of the operations tests: run the CLI to completion (exit code, stdout, stderr), write a
// config variant, and a tiny throwaway PostgreSQL cluster (e.g. with wal_level=replica).
import { execFile } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import { findPgBinDir } from '../../deploy/local/prerequisites.ts';
import { PROJECT_ROOT } from '../../deploy/local/settings.ts';

const execFileP = promisify(execFile);

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runCli(args: string[], timeoutMs = 60_000): Promise<CliResult> {
  try {
    const { stdout, stderr } = await execFileP(
      process.execPath,
      [path.join(PROJECT_ROOT, 'runtime/cli/bin.js'), ...args],
      { cwd: PROJECT_ROOT, timeout: timeoutMs, maxBuffer: 16 << 20 },
    );
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

export function json<T>(r: CliResult): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`not JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
}

/** A copy of a YAML config file with `edit` applied to its parsed form. */
export function configVariant(file: string, edit: (raw: Record<string, unknown>) => void): string {
  const raw = parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  edit(raw);
  const out = path.join(mkdtempSync(path.join(tmpdir(), 'pgcdc-ops-')), 'pgcdc.yaml');
  writeFileSync(out, stringify(raw));
  return out;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

const IS_ROOT = process.getuid?.() === 0;
const asPg = (cmd: string, args: string[]): [string, string[]] =>
  IS_ROOT ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];

export interface TinyCluster {
  url: (db?: string) => string;
  stop(): Promise<void>;
}

/** initdb + pg_ctl start of a minimal cluster in a temp dir on a free port (as `postgres` when root). */
export async function startTinyCluster(settings: Record<string, string>): Promise<TinyCluster> {
  const bin = findPgBinDir();
  if (!bin) throw new Error('PostgreSQL server binaries not found (apt-get install postgresql)');
  const dir = mkdtempSync(path.join(tmpdir(), 'pgcdc-tiny-'));
  if (IS_ROOT) {
    const id = async (f: string) => Number((await execFileP('id', [f, 'postgres'])).stdout.trim());
    chownSync(dir, await id('-u'), await id('-g'));
  }
  const data = path.join(dir, 'data');
  const port = await freePort();
  const run = (cmd: string, args: string[]) => {
    const [c, a] = asPg(path.join(bin, cmd), args);
    return execFileP(c, a, { maxBuffer: 16 << 20 });
  };
  await run('initdb', [
    '-D',
    data,
    '-U',
    'postgres',
    '--auth=trust',
    '-E',
    'UTF8',
    '--no-locale',
    '--no-sync',
  ]);
  const opts = [
    `-p ${port}`,
    '-c listen_addresses=127.0.0.1',
    "-c unix_socket_directories=''",
    '-c shared_buffers=16MB',
    '-c fsync=off',
    ...Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`),
  ].join(' ');
  await run('pg_ctl', ['-D', data, '-l', path.join(dir, 'log'), '-w', '-t', '60', '-o', opts, 'start']);
  return {
    url: (db = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${db}`,
    async stop() {
      await run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
