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
