// Following one measured phase of the benchmark: polls a progress counter (messages in Kafka, the
// sink group's position, rows at the peer, webhook deliveries) until it reaches the expected total,
// recording the CPU of the measured processes with each point. The rate and the CPU exclude
// start-up (the first progress marks the start). Fails with the phase's name when a measured
// process dies, when it is stuck for two minutes, or after its deadline.
import type { CpuMeter } from './proc.ts';
import { rateOf, type ProgressPoint } from './stats.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Follow {
  points: (ProgressPoint & { cpu: number })[];
  rate: number | undefined;
  seconds: number | undefined;
  cpu: number | undefined;
}

/** Polls progress until `total`, recording CPU with each point; rate and CPU exclude start-up. */
export async function follow(
  what: string,
  poll: () => Promise<number>,
  total: number,
  meter: () => CpuMeter,
  check: () => Promise<string | undefined>,
  opts: { timeoutMs: number; intervalMs: number },
): Promise<Follow> {
  const points: Follow['points'] = [];
  const t0 = Date.now();
  let m = meter();
  let lastDone = -1;
  let lastChange = Date.now();
  for (let i = 0; ; i++) {
    const done = await poll();
    // a new process may have appeared (e.g. a sink started just before): measure it too
    if (i === 0) m = meter();
    points.push({ t: Date.now(), done, cpu: m.used() });
    if (done >= total) break;
    if (done !== lastDone) {
      lastDone = done;
      lastChange = Date.now();
    }
    if (i % 10 === 0) {
      const problem = await check();
      if (problem) throw new Error(`${what}: ${problem}`);
    }
    if (Date.now() - t0 > opts.timeoutMs || Date.now() - lastChange > 120_000)
      throw new Error(
        `${what}: stuck at ${done} of ${total} after ${Math.round((Date.now() - t0) / 1000)} s`,
      );
    await sleep(opts.intervalMs);
  }
  const r = rateOf(points, total);
  let cpu: number | undefined;
  if (r) {
    const end = points.find((p) => p.done >= total)!;
    const startIdx = points.findIndex((p) => p.t >= end.t - r.seconds * 1000 - 1);
    cpu = Math.round((end.cpu - points[Math.max(0, startIdx)]!.cpu) * 100) / 100;
  }
  return { points, rate: r?.rate, seconds: r?.seconds, cpu };
}
