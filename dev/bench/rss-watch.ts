// Memory probe for the bench (issue 22, "peak RSS unchanged or lower"): samples every `pgcdc`
// child whose command line contains a given string (e.g. a bench run's results folder) every
// --every ms: VmRSS and VmHWM from /proc, and from its /metrics (prom-client's default metrics)
// the V8 heap used/total and external memory, and its CPU seconds so far. One line per sample, tab-separated, so a run's
// peak can be put next to the bench's phase log by time. Read-only: it never signals anything.
//   node --import tsx dev/bench/rss-watch.ts <match> [--every 250] > samples.tsv
import { readFileSync, readdirSync } from 'node:fs';
import { cpuSeconds } from './proc.ts';

const match = process.argv[2];
if (!match) throw new Error('usage: rss-watch.ts <string in the command line> [--every ms]');
const everyIdx = process.argv.indexOf('--every');
const every = everyIdx > 0 ? Number(process.argv[everyIdx + 1]) : 250;

function status(pid: string): { rss: number; hwm: number; cpu: number } | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? NaN);
    return {
      rss: Math.round(kb('VmRSS') / 1024),
      hwm: Math.round(kb('VmHWM') / 1024),
      cpu: cpuSeconds(Number(pid)) ?? NaN,
    };
  } catch {
    return undefined;
  }
}

function children(): { pid: string; role: string; port?: string }[] {
  const out: { pid: string; role: string; port?: string }[] = [];
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    const line = argv.join(' ');
    if (!line.includes('cli/bin.js') || !line.includes(match!)) continue;
    const verb = argv.find((a) => a === 'consume' || a === 'produce') ?? '?';
    const t = argv.indexOf('--target');
    const cfg = argv[argv.indexOf('--config') + 1] ?? '';
    const round = /_([a-z0-9-]+)\.ya?ml$/.exec(cfg)?.[1] ?? '';
    const role = `${verb}${t > 0 ? ':' + argv[t + 1] : ''}@${round}`;
    const p = argv.indexOf('--metrics-port');
    out.push({ pid, role, ...(p > 0 ? { port: argv[p + 1]! } : {}) });
  }
  return out;
}

async function heap(port: string | undefined): Promise<string> {
  if (!port) return '\t\t';
  try {
    const text = await (
      await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(500) })
    ).text();
    const v = (name: string) => {
      const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)`, 'm').exec(text);
      return m ? String(Math.round(Number(m[1]) / 1048576)) : '';
    };
    return `${v('nodejs_heap_size_used_bytes')}\t${v('nodejs_heap_size_total_bytes')}\t${v('nodejs_external_memory_bytes')}`;
  } catch {
    return '\t\t';
  }
}

console.log('time\tpid\trole\trss_mb\thwm_mb\theap_used_mb\theap_total_mb\texternal_mb\tcpu_s');
for (;;) {
  for (const c of children()) {
    const s = status(c.pid);
    if (!s) continue;
    console.log(
      `${new Date().toISOString()}\t${c.pid}\t${c.role}\t${s.rss}\t${s.hwm}\t${await heap(c.port)}\t${s.cpu}`,
    );
  }
  await new Promise((r) => setTimeout(r, every));
}
