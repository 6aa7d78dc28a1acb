// Offset commits off the consumer's fetch path (pipeline/kafka/kafkajs-consumer.ts). kafkajs
// fetches again only when every batch of the last fetch is handled; a handler that waited for its
// offset commit (a round trip to the group coordinator) held the next fetch for it. Here a
// handled batch queues its offset and returns; one commit request is in flight at a time, and
// offsets queued meanwhile leave together with the next (the latest per partition).
// Guarantees: an offset is queued only after everything before it was applied (the caller's
// rule), so what is committed never runs ahead of the target; commits leave in the order they
// were queued, so a partition's committed offset never goes back; a failed commit is queued
// again (unless a later offset of the partition is queued by then) and retried with the backoff
// of pipeline/retry.ts. What is queued but not committed when the process dies is delivered
// again after a restart, which the sinks absorb (at-least-once, as for any uncommitted batch).
import { createBackoff, sleep, type BackoffOptions } from '../retry.ts';

export interface QueuedOffset {
  topic: string;
  partition: number;
  /** the next offset to consume (everything before it is applied) */
  offset: bigint;
}

export interface OffsetCommitter {
  /** queues the partition's next commit (a later offset of the partition replaces it) */
  queue(o: QueuedOffset): void;
  /** resolves once everything queued so far was committed, or the committer is stopped */
  flush(): Promise<void>;
  /**
   * forgets what is queued, and a request in flight that fails is not tried again (partitions may
   * be someone else's after a rebalance)
   */
  drop(): void;
  /** ends retries: flush() resolves at once from now on */
  stop(): void;
}

export function createOffsetCommitter(opts: {
  /** one commit request of the offsets given */
  send: (offsets: QueuedOffset[]) => Promise<void>;
  /** a commit was acknowledged: how long it took */
  onCommitted?: (seconds: number) => void;
  /** a commit failed (it will be retried) */
  onError: (err: unknown, offsets: QueuedOffset[]) => void;
  backoff?: BackoffOptions;
}): OffsetCommitter {
  const queued = new Map<string, QueuedOffset>();
  const key = (o: QueuedOffset) => `${o.partition}@${o.topic}`;
  const backoff = createBackoff(opts.backoff ?? { initialMs: 100, maxMs: 5_000 });
  const stopping = new AbortController();
  let running: Promise<void> | undefined;
  /** bumped by drop(): a request that fails after a rebalance is not queued again */
  let generation = 0;

  async function drain(): Promise<void> {
    while (queued.size > 0 && !stopping.signal.aborted) {
      const offsets = [...queued.values()];
      queued.clear();
      const sentIn = generation;
      const started = performance.now();
      try {
        await opts.send(offsets);
        backoff.reset();
        opts.onCommitted?.((performance.now() - started) / 1000);
      } catch (err) {
        opts.onError(err, offsets);
        // a rebalance since it left: the partitions may be another member's, whose commits stand
        if (sentIn === generation) for (const o of offsets) if (!queued.has(key(o))) queued.set(key(o), o);
        await sleep(backoff.next(), stopping.signal);
      }
    }
  }

  const start = () => {
    // from the next microtask: offsets queued in the same turn (partitions of one fetch) go together
    running ??= Promise.resolve()
      .then(drain)
      .finally(() => {
        running = undefined;
        // queued while the last request was finishing
        if (queued.size > 0 && !stopping.signal.aborted) void start();
      });
    return running;
  };

  return {
    queue(o) {
      queued.set(key(o), o);
      void start();
    },
    async flush() {
      while (running) await running;
    },
    drop() {
      generation++;
      queued.clear();
    },
    stop: () => stopping.abort(),
  };
}
