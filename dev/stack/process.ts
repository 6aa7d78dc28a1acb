// Process plumbing for the local stack: daemons started detached with a log file and a pid file,
// readiness waits on conditions, ports checked before use, and stop by recorded pid only.
import { spawn, execFile } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { StackError } from '../../pipeline/errors.ts';

export const execFileP = promisify(execFile);

export interface DaemonSpec {
  name: string;
  command: string;
  args: string[];
  cwd?: string;
  logFile: string;
  pidFile: string;
  env?: NodeJS.ProcessEnv;
}

export function startDaemon(spec: DaemonSpec): number {
  mkdirSync(path.dirname(spec.logFile), { recursive: true });
  const fd = openSync(spec.logFile, 'a');
  const child = spawn(spec.command, spec.args, {
    cwd: spec.cwd,
    env: spec.env ?? process.env,
    detached: true,
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  if (child.pid === undefined) throw new StackError(`${spec.name}: could not spawn ${spec.command}`);
  child.unref();
  writeFileSync(spec.pidFile, String(child.pid));
  return child.pid;
}

export function readPid(pidFile: string): number | undefined {
  if (!existsSync(pidFile)) return undefined;
  const pid = Number.parseInt(readFileSync(pidFile, 'utf8').split('\n')[0] ?? '', 10);
  return Number.isFinite(pid) && pid > 0 ? pid : undefined;
}

export function isAlive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie still answers signal 0; treat it as dead.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z /.test(stat);
  } catch {
    return true;
  }
}

export async function stopPid(pid: number | undefined, timeoutMs = 30_000): Promise<void> {
  if (!isAlive(pid) || pid === undefined) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const stopped = await waitFor(() => !isAlive(pid), { timeoutMs, intervalMs: 200 }).then(
    () => true,
    () => false,
  );
  if (!stopped && isAlive(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
    await waitFor(() => !isAlive(pid), { timeoutMs: 5000, intervalMs: 100 }).catch(() => undefined);
  }
}

export function removeFile(file: string): void {
  rmSync(file, { force: true });
}

/** Poll a condition until it holds; rejects with the last error after timeoutMs. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  opts: { timeoutMs: number; intervalMs?: number; what?: string; abortIf?: () => string | undefined },
): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  let lastError: unknown;
  for (;;) {
    const abort = opts.abortIf?.();
    if (abort) throw new StackError(abort);
    try {
      if (await check()) return;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const why = lastError instanceof Error ? `: ${lastError.message}` : '';
      throw new StackError(
        `timed out after ${opts.timeoutMs} ms waiting for ${opts.what ?? 'condition'}${why}`,
      );
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 250));
  }
}

export function tailFile(file: string, lines = 25): string {
  if (!existsSync(file)) return '(no log file)';
  const all = readFileSync(file, 'utf8').split('\n');
  return all.slice(-lines).join('\n');
}

export async function isPortFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

export async function assertPortFree(
  component: string,
  host: string,
  port: number,
  envName: string,
): Promise<void> {
  if (!(await isPortFree(host, port))) {
    throw new StackError(`${component}: port ${host}:${port} is already in use by another process`, {
      hint: `stop that process, or choose another port with ${envName}=<port>`,
    });
  }
}
