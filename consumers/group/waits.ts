// The unique-conflict waits of one target's consumer: per topic a conflict book (partitions are
// numbered per topic; consumers/group/conflicts.ts), and the early wake-ups that cut a wait short
// when another partition of the topic moves (consumers/group/wakeups.ts). The consumer loop tells
// it what a chunk did; it answers with the outcome for the partition.
import type { BatchOutcome, PartitionBatch } from '../../pipeline/kafka/port.ts';
import type { Logger } from '../../pipeline/observability/logger.ts';
import type { ApplyResult, DecodedEvent } from '../sink.ts';
import { UniqueConflicts } from './conflicts.ts';
import { createWakeups } from './wakeups.ts';

type Where = Pick<PartitionBatch, 'topic' | 'partition'>;

/** An event that has waited longer than `lockLimitMs` for locks at the target (not for a partition). */
export interface LongLockWait {
  partition: number;
  offset: bigint;
  lockedMs: number;
  error: string;
  retryInMs: number;
}

export function createConflictWaits(opts: {
  attempts: number;
  log: Logger;
  /**
   * A lock wait is first taken for a short wait on another lane; one that lasts longer than this
   * (the target's lock timeout) is a lock held outside the pipeline: `onLongLock` reports it on
   * every retry (as a failed batch: status ERR, metrics) while the event keeps waiting.
   */
  lockLimitMs?: number;
  onLongLock?: (w: LongLockWait) => void;
}) {
  const books = new Map<string, UniqueConflicts>();
  const bookOf = (topic: string) => {
    let book = books.get(topic);
    if (!book) books.set(topic, (book = new UniqueConflicts(opts.attempts)));
    return book;
  };
  const wakeups = createWakeups();
  return {
    /** the chunk's events, less the one that waited too often (it goes to the dead-letter topic) */
    admit: (at: Where, events: DecodedEvent[]) => bookOf(at.topic).admit(at.partition, events),

    /** the chunk from `from` is done up to `next`, or waits at retryFrom: the partition's outcome */
    outcome(at: Where, from: bigint, next: bigint, retryFrom: ApplyResult['retryFrom']): BatchOutcome {
      const { topic, partition } = at;
      // the partition moved: a partition waiting for it may go on now
      if (next > from) wakeups.moved(topic, partition);
      const woken = wakeups.wasWoken(topic, partition);
      if (!retryFrom) {
        bookOf(topic).settled(partition, next);
        return { kind: 'done' };
      }
      const { offset, error, reason } = retryFrom;
      const lock = reason === 'lock-wait';
      const { attempt, afterMs, counted, lockedMs } = bookOf(topic).waited(partition, offset, {
        woken,
        lock,
      });
      if (lockedMs !== undefined && opts.onLongLock && lockedMs >= (opts.lockLimitMs ?? 5_000))
        opts.onLongLock({ partition, offset, lockedMs, error: error ?? 'lock wait', retryInMs: afterMs });
      const fields = { partition, offset: offset.toString(), attempt, error };
      opts.log[counted ? 'info' : 'debug'](
        fields,
        lock ? 'event waits for a lock' : 'event waits for another partition',
      );
      return { kind: 'retry-from', offset, afterMs, wake: wakeups.waiting(topic, partition) };
    },

    clear: () => wakeups.clear(),
  };
}
