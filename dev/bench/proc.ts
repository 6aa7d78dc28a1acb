// Processes under measurement: spawned as children (pgcdc CLI verbs, JVMs), with their CPU time
// and peak resident memory read from /proc while they live. Stopped by their own pid only.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../stack/settings.ts';

const CLK_TCK = 100; // Linux USER_HZ

/** utime + stime of a live process, in seconds (undefined once it is gone). */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after the ")" of the command name: state is field 3, utime 14, stime 15
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
  } catch {
    return undefined;
  }
}

/** Peak resident set size (VmHWM) in MiB. */
export function peakRssMb(pid: number): number | undefined {
  try {
    const kb = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
    return Number.isFinite(kb) ? Math.round(kb / 1024) : undefined;
  } catch {
    return undefined;
  }
}

export function loadAverage(): [number, number, number] {
  const [a = 0, b = 0, c = 0] = os.loadavg();
  return [a, b, c].map((x) => Math.round(x * 100) / 100) as [number, number, number];
}

export interface Child {
  readonly name: string;
  readonly pid: number;
  alive(): boolean;
  cpu(): number | undefined;
  peakRssMb(): number | undefined;
  /** last lines of its output (kept in memory, and in the log file if one was given) */
  tail(lines?: number): string;
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<void>;
  exited: Promise<number | null>;
}

export function spawnChild(
  name: string,
  command: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; logFile?: string; cwd?: string } = {},
): Child {
  const proc: ChildProcess = spawn(command, args, {
    cwd: opts.cwd ?? PROJECT_ROOT,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (proc.pid === undefined) throw new Error(`could not start ${name} (${command})`);
  const pid = proc.pid;
  const log = opts.logFile ? createWriteStream(opts.logFile, { flags: 'a' }) : undefined;
  let buf = '';
  const onData = (d: Buffer) => {
    log?.write(d);
    buf = (buf + d.toString()).slice(-20_000);
  };
  proc.stdout?.on('data', onData);
  proc.stderr?.on('data', onData);
  let done = false;
  const exited = new Promise<number | null>((resolve) =>
    proc.once('exit', (code) => {
      done = true;
      log?.end();
      resolve(code);
    }),
  );
  return {
    name,
    pid,
    alive: () => !done,
    cpu: () => cpuSeconds(pid),
    peakRssMb: () => peakRssMb(pid),
    tail: (lines = 20) => buf.split('\n').slice(-lines).join('\n'),
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 20_000) {
      if (done) return;
      proc.kill(signal);
      const t = setTimeout(() => {
        if (!done) proc.kill('SIGKILL');
      }, timeoutMs);
      await exited;
      clearTimeout(t);
    },
  };
}

/**
 * A `pgcdc <verb>` child running the TypeScript sources like `npm run pgcdc` does; with
 * `profileDir`, V8 writes a CPU profile there when it exits (open it in Chrome DevTools). `root`:
 * another checkout of the project to run instead of this one (the bench's --compare-tree).
 */
export function spawnPgcdc(
  name: string,
  args: string[],
  logFile?: string,
  profileDir?: string,
  /** the pgcdc checkout to run (default: this one) */
  root = PROJECT_ROOT,
): Child {
  // one folder per child, named after its log (round and role), so the bench can find its
  // profiles: V8 writes one per thread (the main thread's and tsx's loader thread's)
  const dir = profileDir && logFile ? path.join(profileDir, path.basename(logFile, '.log')) : profileDir;
  const node = dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [];
  return spawnChild(name, process.execPath, [...node, path.join(root, 'cli/bin.js'), ...args], {
    ...(logFile ? { logFile } : {}),
    cwd: root,
  });
}

/** CPU seconds a set of processes used between two readings. */
export class CpuMeter {
  private readonly start = new Map<number, number>();
  constructor(private readonly children: Child[]) {
    for (const c of children) this.start.set(c.pid, c.cpu() ?? 0);
  }
  used(): number {
    let sum = 0;
    for (const c of this.children) sum += Math.max(0, (c.cpu() ?? 0) - (this.start.get(c.pid) ?? 0));
    return Math.round(sum * 100) / 100;
  }
}

/** A port free on 127.0.0.1 for a child to bind, outside the ephemeral range (dev/stack/ports.ts). */
export { freePort } from '../stack/ports.ts';
