// The consumer's V8 heap growth (issue 22: "peak RSS unchanged or lower"). Most of a running
// consumer's peak RSS is old-generation garbage, not data it keeps (a mark-compact frees all but
// ~40 MiB): most likely objects still in flight when a scavenge runs (events waiting for their
// apply round trip) are promoted, die soon after, and stay in the old generation until the next mark-compact, which V8 schedules when
// the old generation has grown to up to 4x what the last one left alive. Measured in the bench's
// sink and 1,000/s latency phases (docs/performance.md, "Session 7: memory"): the heap grew from
// ~50 to ~165 MiB before a mark-compact brought it back to ~40, setting the process's peak.
// A smaller growing factor makes V8 collect sooner: PGCDC_HEAP_GROWING_PERCENT=20 (the old
// generation grows by 20 % of the live heap) took the consumer's peak from 260 to 192 MiB
// (medians of 10 and 6 bench runs), at more mark-compacts: sink-phase CPU 1.77 -> 2.24 s per 30k
// events, e2e p99 at 1,000/s 385 -> 701 ms (load 10-17, noisy). Both are goals of the same issue,
// so it is opt-in (unset or 0: V8's own heuristic). Only the factor changes: the heap's maximum
// size, and with it the out-of-memory limit, stays V8's, so no batch that fitted before fails.
import { setFlagsFromString } from 'node:v8';
import { ConfigError } from '../pipeline/errors.ts';

/** the default: 0, V8's own heuristic (up to 4x the live heap before the next mark-compact) */
export const CONSUMER_HEAP_GROWING_PERCENT = 0;

/** The percent to use: the environment's override or the default (0 = V8's heuristic). Pure. */
export function heapGrowingPercent(env: NodeJS.ProcessEnv): number {
  const raw = env['PGCDC_HEAP_GROWING_PERCENT'];
  if (raw === undefined || raw.trim() === '') return CONSUMER_HEAP_GROWING_PERCENT;
  const percent = Number(raw);
  if (!Number.isInteger(percent) || percent < 0 || percent > 1000) {
    throw new ConfigError(`PGCDC_HEAP_GROWING_PERCENT must be a whole number from 0 to 1000, got "${raw}"`, {
      hint: 'unset it to use the default, or 0 for V8’s own heap growth',
    });
  }
  return percent;
}

/** Sets V8's heap growing factor of this process (1 + percent / 100); 0 leaves V8's own. */
export function limitHeapGrowth(env: NodeJS.ProcessEnv = process.env): number {
  const percent = heapGrowingPercent(env);
  if (percent > 0) setFlagsFromString(`--heap-growing-percent=${percent}`);
  return percent;
}
