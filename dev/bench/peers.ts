// The peers bench (`pgcdc-dev bench-peers`, docs/peers.md "Performance"): a mesh of N nodes on the
// local stack, set up as the demo sets it up (dev/peers/start.ts), every node in this process, a total write rate spread evenly
// over the nodes on a shared key set (so some writes conflict), for a fixed time. Measures:
// - replication latency: for each change a link applied, the node's apply time (the `updated_at`
//   of the key's version row beside the table) minus the change's source commit time (its
//   `ts_us`); sampled by polling every node's version rows (a key applied twice between two polls
//   counts once); same machine, so no clock skew. p50/p95/p99/max.
// - convergence time: from the last write's commit to the moment every node's SQL digest is equal.
// Achieved write rate and conflicts are reported beside them: the rate a loaded machine reaches
// may fall short of the one asked for.
import { createLogger } from '../../pipeline/observability/logger.ts';
import { sleep } from '../../pipeline/retry.ts';
import type { StackUrls } from '../stack/settings.ts';
import { conflictCounts, digests, withClient } from '../peers/mesh.ts';
import { seedUsers, startDevMesh, waitFor } from '../peers/start.ts';
import { startMeshWriter } from '../peers/writer.ts';
import { percentile } from './stats.ts';

export interface PeersBenchOptions {
  nodes: number;
  /** writes per second, all nodes together */
  rate: number;
  seconds: number;
  /** users seeded at the first node and written by every node */
  keys: number;
  log: (m: string) => void;
}

export interface PeersBenchResult {
  nodes: number;
  askedRate: number;
  achievedRate: number;
  writes: number;
  failedWrites: number;
  seconds: number;
  latencyMs: { samples: number; p50: number; p95: number; p99: number; max: number };
  convergenceMs: number;
  conflicts: number;
  rows: number;
}

/** Polls every node's version rows for applies newer than the last poll; collects latencies. */
function latencySampler(urls: string[]) {
  const since = new Map(urls.map((u) => [u, 0n]));
  const samples: number[] = [];
  const poll = async () => {
    for (const url of urls) {
      const rows = await withClient(url, (c) =>
        c.query<{ ts_us: string; at_us: string }>(
          `SELECT ts_us::text, (extract(epoch FROM updated_at) * 1000000)::bigint::text AS at_us
             FROM users_pgcdc_peer WHERE ts_us IS NOT NULL AND updated_at > to_timestamp($1::bigint / 1000000.0)`,
          [since.get(url)!.toString()],
        ),
      ).catch(() => ({ rows: [] })); // the table appears with the first apply
      for (const r of rows.rows) {
        const at = BigInt(r.at_us);
        samples.push(Number(at - BigInt(r.ts_us)) / 1000);
        if (at > since.get(url)!) since.set(url, at);
      }
    }
  };
  return { samples, poll };
}

export async function runPeersBench(urls: StackUrls, o: PeersBenchOptions): Promise<PeersBenchResult> {
  const { mesh, stop } = await startDevMesh(urls, {
    name: 'bench',
    nodes: o.nodes,
    logger: createLogger({ level: 'error' }),
  });
  try {
    await seedUsers(mesh, o.keys, 11);
    o.log(`${o.keys} users at every node; writing ${o.rate}/s over ${o.nodes} nodes for ${o.seconds} s`);
    const sampler = latencySampler(mesh.nodes.map((x) => x.url));
    await sampler.poll(); // the seed's applies are not part of the measurement
    sampler.samples.length = 0;
    const keys = Array.from({ length: o.keys }, (_, i) => i + 1);
    const t0 = Date.now();
    const writers = mesh.nodes.map((x, i) =>
      startMeshWriter(x.url, x.name, { ratePerSec: o.rate / o.nodes, keys, seed: 1000 + i }),
    );
    while (Date.now() - t0 < o.seconds * 1000) {
      await sleep(250);
      await sampler.poll();
    }
    const stats = await Promise.all(writers.map((w) => w.stop()));
    const wrote = Date.now() - t0;
    const last = Math.max(...stats.map((s) => s.lastCommitAt));
    let converged = 0;
    await waitFor(
      'every node to hold the same rows',
      async () => {
        await sampler.poll();
        const d = await digests(mesh);
        converged = Date.now();
        return d.equal;
      },
      300_000,
    );
    await sampler.poll();
    const conflicts = (await Promise.all(mesh.nodes.map((x) => conflictCounts(x.url))))
      .flat()
      .reduce((n, c) => n + c.n, 0);
    const s = [...sampler.samples].sort((a, b) => a - b);
    const writes = stats.reduce((n, x) => n + x.writes, 0);
    return {
      nodes: o.nodes,
      askedRate: o.rate,
      achievedRate: Math.round((writes / wrote) * 1000),
      writes,
      failedWrites: stats.reduce((n, x) => n + x.failed, 0),
      seconds: o.seconds,
      latencyMs: {
        samples: s.length,
        p50: percentile(s, 0.5) ?? 0,
        p95: percentile(s, 0.95) ?? 0,
        p99: percentile(s, 0.99) ?? 0,
        max: s.at(-1) ?? 0,
      },
      convergenceMs: converged - last,
      conflicts,
      rows: (await digests(mesh)).by[mesh.nodes[0]!.name]!.rows,
    };
  } finally {
    await stop();
  }
}
