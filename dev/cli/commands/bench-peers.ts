// `pgcdc-dev bench-peers`: the peers bench (dev/bench/peers.ts) on the local stack: p99 replication
// latency and convergence time of a mesh at a total write rate (default 1,000 changes/s over three
// nodes). Prints the result as JSON and one summary line; saves nothing.
import type { Command } from 'commander';
import { runPeersBench } from '../../bench/peers.ts';
import { stackSettingsFromEnv } from '../../stack/settings.ts';
import { stackDown, stackUp } from '../../stack/stack.ts';

interface Opts {
  nodes: string;
  rate: string;
  seconds: string;
  keys: string;
  keepStack?: boolean;
}

export function registerPeersBenchCommand(program: Command): void {
  program
    .command('bench-peers')
    .description('peers mesh: p99 replication latency and convergence time under a spread write rate')
    .option('--nodes <n>', 'nodes of the mesh', '3')
    .option('--rate <n>', 'writes per second, all nodes together', '1000')
    .option('--seconds <n>', 'how long every node writes (short form: 10)', '30')
    .option('--keys <n>', 'users every node writes (fewer: more conflicts)', '5000')
    .option('--keep-stack', 'leave the local stack running at the end')
    .action(async (o: Opts) => {
      const settings = stackSettingsFromEnv(process.env);
      const up = await stackUp(settings, (m) => console.error(m));
      try {
        const r = await runPeersBench(up.urls, {
          nodes: Number(o.nodes),
          rate: Number(o.rate),
          seconds: Number(o.seconds),
          keys: Number(o.keys),
          log: (m) => console.error(`bench-peers: ${m}`),
        });
        console.log(JSON.stringify(r, null, 2));
        console.log(
          `peers ${r.nodes} nodes, ${r.achievedRate}/s achieved of ${r.askedRate}/s: replication latency p50 ${r.latencyMs.p50.toFixed(0)} ms, p99 ${r.latencyMs.p99.toFixed(0)} ms (${r.latencyMs.samples} applies); converged ${(r.convergenceMs / 1000).toFixed(1)} s after the last write; ${r.conflicts} conflicts`,
        );
      } finally {
        if (!o.keepStack && up.started.length > 0) await stackDown(settings, up.started);
      }
    });
}
