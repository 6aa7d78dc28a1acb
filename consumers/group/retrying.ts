// Retry decorators of the consumer group loop: `createPersist` runs an operation (open the target,
// decode, apply, write dead letters) until it succeeds, with the one backoff policy of
// pipeline/retry.ts, and gives up only when the consumer stops (the pending wait ends at once) or
// the batch is no longer wanted (revoked); `retryingApply` is a sink's apply wrapped in it. Order
// and offsets hold: nothing after a failing operation runs until it succeeded.
import { retryUntil, type BackoffOptions } from '../../pipeline/retry.ts';
import type { ApplyContext, ApplyResult, DecodedEvent, Sink } from '../sink.ts';

/** What a retried operation needs of its batch. */
export type BatchLease = Pick<ApplyContext, 'heartbeat' | 'isStale'>;

/** A lease for work outside any batch (opening the target, waiting for the topic). */
export const NO_BATCH: BatchLease = { heartbeat: () => Promise.resolve(), isStale: () => false };

export interface FailedAttempt {
  what: string;
  err: unknown;
  delayMs: number;
  /** since the first attempt */
  durationMs: number;
}

/** Runs `fn` until it succeeds; undefined once stopping or stale. */
export type Persist = <T>(what: string, lease: BatchLease, fn: () => Promise<T>) => Promise<T | undefined>;

/** thrown (and caught here) when the consumer stops or the batch is revoked */
class Gone extends Error {}

export function createPersist(opts: {
  backoff: BackoffOptions;
  /** aborted when the consumer stops */
  signal: AbortSignal;
  onFailure: (f: FailedAttempt) => void;
}): Persist {
  return async function persist<T>(what: string, lease: BatchLease, fn: () => Promise<T>) {
    const gone = () => opts.signal.aborted || lease.isStale();
    const started = Date.now();
    try {
      return await retryUntil(
        async (attempt) => {
          // the wait may have outlasted a heartbeat interval: keep the membership first
          if (attempt > 1) await lease.heartbeat().catch(() => undefined);
          if (gone()) throw new Gone('stopping or stale');
          return fn();
        },
        {
          backoff: opts.backoff,
          signal: opts.signal,
          retriable: (err) => !(err instanceof Gone) && !gone(),
          onRetry: ({ err, delayMs }) =>
            opts.onFailure({ what, err, delayMs, durationMs: Date.now() - started }),
        },
      );
    } catch (err) {
      if (err instanceof Gone || gone()) return undefined;
      throw err;
    }
  };
}

/** A sink's apply, retried until it succeeds; undefined once stopping or stale. */
export type RetryingApply = (events: DecodedEvent[], ctx: ApplyContext) => Promise<ApplyResult | undefined>;

export function retryingApply(sink: Sink, persist: Persist): RetryingApply {
  return (events, ctx) => persist('apply', ctx, () => sink.apply(events, ctx));
}
