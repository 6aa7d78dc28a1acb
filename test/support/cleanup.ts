// Per-test cleanup: what a test starts (pipelines, servers, databases, writers) it registers here,
// and after each test everything registered runs, the latest first, each within a deadline. A
// cleanup that fails or hangs does not stop the others (they still release their databases,
// slots and processes); the test then fails with every failure, each naming its cleanup.
import { afterEach } from 'vitest';
import { withDeadline } from './deadline.ts';

export interface Cleanups {
  /** Registers `fn`; `what` names it in failures (default: the function's source text). */
  push(fn: () => unknown, what?: string): void;
}

/** Cleanups run after each test of the calling file; `timeoutMs` is each one's deadline. */
export function cleanupAfterEach(timeoutMs = 60_000): Cleanups {
  const fns: { fn: () => unknown; what: string }[] = [];
  afterEach(async () => {
    const failures: Error[] = [];
    for (const { fn, what } of fns.splice(0).reverse()) {
      try {
        await withDeadline(Promise.resolve().then(fn), timeoutMs, `cleanup ${what}`);
      } catch (err) {
        failures.push(err instanceof Error ? err : new Error(String(err)));
      }
    }
    if (failures.length === 1) throw failures[0]!;
    if (failures.length > 1)
      throw new AggregateError(
        failures,
        `${failures.length} cleanups failed: ${failures.map((e) => e.message).join('; ')}`,
      );
  });
  return {
    push(fn, what) {
      fns.push({ fn, what: what ?? fn.toString().replace(/\s+/g, ' ').slice(0, 120) });
    },
  };
}
