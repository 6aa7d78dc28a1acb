// A graceful stop with a deadline. SIGTERM drains: the producer publishes what it read and stores
// the position Kafka acknowledged, consumers finish their batch and commit. A Kafka send that is
// never acknowledged (broker gone, partition without leader) would hold that forever; after
// operations.stopTimeoutMs we log what is abandoned and let the process exit. Nothing is lost:
// what Kafka did not acknowledge was never confirmed to the slot, and a batch not committed is
// redelivered, so the next start reads both again.
import type { Logger } from '../observability/logger.ts';

export type StopOutcome = { kind: 'stopped'; ms: number } | { kind: 'abandoned'; ms: number };

export async function stopWithin(
  stop: () => Promise<void>,
  opts: {
    deadlineMs: number;
    logger: Logger;
    /** What a stop cut short leaves behind (positions, batches), for the log line. */
    abandoned: () => Record<string, unknown>;
  },
): Promise<StopOutcome> {
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'deadline'>((resolve) => {
    timer = setTimeout(() => resolve('deadline'), opts.deadlineMs);
  });
  const stopped = stop().then(
    () => 'stopped' as const,
    (err: unknown) => {
      opts.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'graceful stop failed');
      return 'stopped' as const;
    },
  );
  try {
    const first = await Promise.race([stopped, deadline]);
    const ms = Date.now() - started;
    if (first === 'stopped') return { kind: 'stopped', ms };
    opts.logger.error(
      {
        stopTimeoutMs: opts.deadlineMs,
        ...opts.abandoned(),
        lost: 'nothing: what Kafka did not acknowledge was never confirmed to the slot, and uncommitted batches are redelivered; both are read again at the next start',
      },
      'graceful stop did not finish in time (operations.stopTimeoutMs); exiting without it',
    );
    return { kind: 'abandoned', ms };
  } finally {
    clearTimeout(timer);
  }
}
