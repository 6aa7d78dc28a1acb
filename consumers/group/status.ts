// A target's status as the consumer group loop keeps it (shown by /readyz, `pgcdc status` and the
// status topic) together with the `pgcdc_target_up` / `pgcdc_target_failed_batches_total` metrics
// that move with it. The loop reports what happened (opened, failed and retrying, chunk done,
// stopped); this module decides what that means for the state, the counters and the gauges.
// Errors shown here pass through `publicError`: no row values leave the dead-letter record.
import { PgcdcError } from '../../pipeline/errors.ts';
import type { Metrics } from '../../pipeline/observability/metrics.ts';
import { publicError } from './public-error.ts';

export interface TargetStatus {
  target: string;
  group: string;
  state: 'starting' | 'OK' | 'ERR' | 'stopped';
  lastError: string | undefined;
  lastErrorAt: Date | undefined;
  lastAppliedAt: Date | undefined;
  lastAppliedCommitUs: bigint | undefined;
  /** Kafka position of the last applied event */
  lastAppliedOffset: { partition: number; offset: bigint } | undefined;
  /** set while an apply keeps failing and is being retried (cleared by the next success) */
  failingSince: Date | undefined;
  applied: number;
  failed: number;
  deadLettered: number;
  /** the counters count from here (restored from the status topic across restarts) */
  countingSince: Date;
}

/** Counters of an earlier run of this target (from the status topic), continued by this one. */
export interface RestoredCounters {
  applied: number;
  failed: number;
  deadLettered: number;
  countingSince: Date;
}

/** What a finished chunk changes in the status. */
export interface ChunkDone {
  partition: number;
  applied: number;
  deadLettered: number;
  /** the last applied event: its offset and source commit time */
  last: { offset: bigint; commitUs: bigint } | undefined;
  /** what to show as the last error about the dead letters (without row values) */
  deadLetterError: string | undefined;
  /** the chunk stopped before an event that waits for another partition */
  waiting: boolean;
  /** ... for a lock at the target: a failure reported meanwhile (a long lock) stays in effect */
  lockWait?: boolean;
}

export interface TargetStatusBook {
  status(): TargetStatus;
  /** the target was reached (nothing applied yet) */
  opened(): void;
  /** an operation failed and is retried */
  failed(err: unknown): void;
  /** a failure a sink retries by itself (webhook deliveries) */
  reportError(message: string): void;
  chunkDone(done: ChunkDone): void;
  stopped(): void;
}

export function createTargetStatusBook(opts: {
  target: string;
  group: string;
  metrics: Metrics;
  restored?: RestoredCounters | undefined;
}): TargetStatusBook {
  const { metrics } = opts;
  const labels = { target: opts.target };
  const s: TargetStatus = {
    target: opts.target,
    group: opts.group,
    state: 'starting',
    lastError: undefined,
    lastErrorAt: undefined,
    lastAppliedAt: undefined,
    lastAppliedCommitUs: undefined,
    lastAppliedOffset: undefined,
    failingSince: undefined,
    applied: opts.restored?.applied ?? 0,
    failed: opts.restored?.failed ?? 0,
    deadLettered: opts.restored?.deadLettered ?? 0,
    countingSince: opts.restored?.countingSince ?? new Date(),
  };
  const setError = (text: string) => {
    s.state = 'ERR';
    metrics.targetUp.set(labels, 0);
    s.lastError = text;
    s.lastErrorAt = new Date();
  };
  const ok = () => {
    s.state = 'OK';
    metrics.targetUp.set(labels, 1);
  };
  return {
    status: () => ({ ...s }),
    opened() {
      if (s.state !== 'starting') return;
      ok();
      s.failingSince = undefined;
    },
    failed(err) {
      s.failed++;
      s.failingSince ??= new Date();
      metrics.failed.inc(labels);
      setError(publicError(err));
    },
    reportError(message) {
      setError(publicError(new PgcdcError(message)));
      s.failingSince ??= new Date();
    },
    chunkDone(d) {
      s.applied += d.applied;
      s.deadLettered += d.deadLettered;
      if (d.last) {
        s.lastAppliedAt = new Date();
        s.lastAppliedCommitUs = d.last.commitUs;
        s.lastAppliedOffset = { partition: d.partition, offset: d.last.offset };
      }
      if (!d.lockWait) s.failingSince = undefined;
      if (d.deadLetterError !== undefined) setError(d.deadLetterError);
      else if (!d.waiting) ok();
    },
    stopped() {
      s.state = 'stopped';
    },
  };
}
