// Waiting on conditions instead of sleeping: a test proceeds as soon as what it needs is true,
// and a timeout names what never happened.

export interface WaitOptions {
  /** Give up after this long (default 30 s). */
  timeoutMs?: number;
  /** Poll interval (default 100 ms). */
  intervalMs?: number;
  /** What is awaited, for the timeout message: 'the insert to reach the peer'. */
  what: string;
}

/**
 * Polls `check` until it returns a value other than `undefined`, `null` or `false`, and resolves
 * with that value. Errors thrown by `check` count as "not yet"; the last one is reported on timeout.
 * The deadline also bounds a `check` whose promise never settles (a query that hangs, an event
 * that never comes): the wait fails soon after the deadline instead of hanging the test until its
 * timeout. A check still running at the deadline gets a grace (a tenth of the timeout, at least
 * 5 s) to settle, so a slow but healthy last check still counts.
 */
export async function waitUntil<T>(
  check: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  opts: WaitOptions,
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  const hangDeadline = deadline + Math.max(5_000, timeoutMs / 10);
  let lastError: unknown;
  const timedOut = () => {
    const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
    return new Error(`timed out after ${timeoutMs} ms waiting for ${opts.what}${why}`, { cause: lastError });
  };
  for (;;) {
    let value: Awaited<ReturnType<typeof check>> | typeof PAST_DEADLINE = undefined;
    try {
      value = await beforeDeadline(Promise.resolve().then(check), hangDeadline);
    } catch (err) {
      lastError = err;
    }
    if (value === PAST_DEADLINE) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${opts.what} (the check itself never settled)`,
      );
    }
    if (value !== undefined && value !== null && value !== false) return value;
    if (Date.now() >= deadline) throw timedOut();
    await new Promise((resolve) => setTimeout(resolve, opts.intervalMs ?? 100));
  }
}

const PAST_DEADLINE = Symbol('past the deadline');

/** `p`, or PAST_DEADLINE when `deadline` (epoch ms) comes first. */
async function beforeDeadline<T>(p: Promise<T>, deadline: number): Promise<T | typeof PAST_DEADLINE> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<typeof PAST_DEADLINE>((resolve) => {
    timer = setTimeout(() => resolve(PAST_DEADLINE), Math.max(0, deadline - Date.now()));
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}
