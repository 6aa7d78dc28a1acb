// The one retry/backoff policy of pgcdc. Every loop that retries (producer restarts, a target's
// apply and dead-letter writes, waiting for the registry at start, webhook deliveries) takes its
// delays from here: exponential from `initialMs`, doubled per failure, capped at `maxMs`, each
// delay optionally reduced by a random fraction up to `jitter` (spreads the retries of many
// workers). The delay sequence comes from cockatiel's ExponentialBackoff; the loop around it is
// ours because a stopping pipeline must cut a wait short (cockatiel's own delay cannot be
// aborted), and because a long-running service resets its schedule after a healthy stretch.
import { ExponentialBackoff, type IBackoff } from 'cockatiel';

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /** 0..1: each delay is reduced by a random fraction up to this; 0 (default) = no jitter. */
  jitter?: number;
}

/** A restartable sequence of delays. */
export interface Backoff {
  /** The delay before the next attempt (the first call gives the initial delay). */
  next(): number;
  /** Start again from the initial delay (after a success, or a long healthy run). */
  reset(): void;
}

export function createBackoff(opts: BackoffOptions, random: () => number = Math.random): Backoff {
  const jitter = opts.jitter ?? 0;
  const factory = new ExponentialBackoff<number>({
    initialDelay: opts.initialMs,
    maxDelay: opts.maxMs,
    exponent: 2,
    // state: the number of delays given so far
    generator: (attempt = 0, o) => {
      const exp = Math.min(o.maxDelay, o.initialDelay * o.exponent ** Math.min(attempt, 52));
      return [Math.round(exp * (1 - jitter * random())), attempt + 1];
    },
  });
  let current: IBackoff<unknown> | undefined;
  return {
    next() {
      current = current ? current.next(undefined) : factory.next();
      return current.duration;
    },
    reset() {
      current = undefined;
    },
  };
}

/**
 * The `attempt`-th delay (1-based) of a fresh schedule, jittered by one draw of `random`: for pure
 * code that counts attempts itself (webhook deliveries).
 */
export function backoffMs(attempt: number, opts: BackoffOptions, random: () => number = Math.random): number {
  const n = Math.max(1, Math.min(attempt, 64));
  let draws = 0;
  const b = createBackoff(opts, () => (++draws === n ? random() : 0));
  let ms = 0;
  for (let i = 0; i < n; i++) ms = b.next();
  return ms;
}

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

export interface RetryOptions {
  backoff: BackoffOptions;
  /** Whether a failure is worth another attempt; the default retries everything. */
  retriable?: (err: unknown) => boolean;
  /** Called before each wait (log, metrics, status); may be async (e.g. a heartbeat). */
  onRetry?: (e: { err: unknown; attempt: number; delayMs: number }) => void | Promise<void>;
  /** Stops the loop: a pending wait ends at once and the last error is thrown. */
  signal?: AbortSignal;
  /** Give up after this many attempts (default: never). */
  maxAttempts?: number;
}

/** Runs `fn` until it succeeds; rethrows a non-retriable error, or the last one once aborted. */
export async function retryUntil<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions): Promise<T> {
  const schedule = createBackoff(opts.backoff);
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      const retriable = opts.retriable?.(err) ?? true;
      if (!retriable || opts.signal?.aborted || attempt >= (opts.maxAttempts ?? Infinity)) throw err;
      const delayMs = schedule.next();
      await opts.onRetry?.({ err, attempt, delayMs });
      await sleep(delayMs, opts.signal);
      if (opts.signal?.aborted) throw err;
    }
  }
}
