// Every await of an integration test has a deadline: a hang (a stop() that waits for a Kafka send
// that never comes, a query behind a lock, a disconnect that never returns) fails within the
// deadline with a message naming what hung, instead of running into vitest's hook timeout with
// nothing said. The promise is not cancelled (JavaScript cannot): what hung may still finish later.

/** A deadline ran out; `what` names what was awaited. */
export class DeadlineError extends Error {
  constructor(
    readonly what: string,
    readonly ms: number,
  ) {
    super(`${what}: no answer within ${ms} ms (hung)`);
    this.name = 'DeadlineError';
  }
}

/** Resolves like `work` (a promise, or a function starting it) or rejects with DeadlineError after `ms`. */
export async function withDeadline<T>(
  work: Promise<T> | (() => Promise<T>),
  ms: number,
  what: string,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(what, ms)), ms);
  });
  try {
    return await Promise.race([typeof work === 'function' ? work() : work, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Starts several things together (e.g. the nodes of a mesh), each within `ms`. When one fails or
 * misses its deadline, every other one is stopped, including one that starts only later, and the
 * first error is thrown: nothing started by a failed set-up keeps running past the test (a
 * peer node left running would keep its links' replication origins, which are server-wide, busy).
 */
export async function startAllOrNone<T extends { stop(): Promise<void> }>(
  starts: { what: string; start: Promise<T> }[],
  ms: number,
  stopMs: number,
): Promise<T[]> {
  const settled = await Promise.allSettled(starts.map((s) => withDeadline(s.start, ms, s.what)));
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (!failed) return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
  const stops: Promise<unknown>[] = [];
  settled.forEach((s, i) => {
    if (s.status === 'fulfilled')
      stops.push(withDeadline(s.value.stop(), stopMs, `stopping ${starts[i]!.what}`).catch(() => undefined));
    // still starting (its deadline ran out): stopped once it has started
    else void starts[i]!.start.then((late) => late.stop()).catch(() => undefined);
  });
  await Promise.all(stops);
  throw failed.reason;
}
