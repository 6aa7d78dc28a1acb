// Unique-conflict waiting: an event that violates a unique key other than the primary key usually
// waits for another partition to move the conflicting value away, so the sink stops before it and
// the partition is retried from there after a growing delay. An event still conflicting after
// `maxAttempts` retries is dead-lettered instead of blocking its partition forever. A partition
// woken early (the partition it waits for moved: consumers/group/wakeups.ts) retries at once, but
// such an early retry is not an attempt: attempts are counted on the backoff's schedule only, so
// a busy other partition cannot exhaust a waiting event sooner than the backoff would. Pure (the
// clock is passed in).
import { backoffMs, type BackoffOptions } from '../../pipeline/retry.ts';
import type { DecodedEvent } from '../sink.ts';

/** Delay before retrying a waiting event: 200 ms after the first wait, doubling, capped at 5 s. */
export const CONFLICT_BACKOFF: BackoffOptions = { initialMs: 100, maxMs: 5_000 };

/**
 * A partition waits on at most one event at a time (the sink applied everything before it), so
 * one entry per waiting partition: replaced when the partition waits on a later event, dropped
 * when it moved past it (applied, or dead-lettered here). Bounded by the partition count.
 */
export class UniqueConflicts {
  private readonly waiting = new Map<
    number,
    { offset: bigint; attempts: number; dueAt: number; lockWaits?: number; lockSince?: number }
  >();
  constructor(
    private readonly maxAttempts: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Splits off the event that waited `maxAttempts` times already: it goes to the dead-letter topic. */
  admit(
    partition: number,
    events: DecodedEvent[],
  ): { events: DecodedEvent[]; exhausted: { event: DecodedEvent; attempts: number }[] } {
    const w = this.waiting.get(partition);
    if (!w || w.attempts < this.maxAttempts) return { events, exhausted: [] };
    const event = events.find((e) => e.offset === w.offset);
    if (!event) return { events, exhausted: [] };
    this.waiting.delete(partition);
    return { events: events.filter((e) => e !== event), exhausted: [{ event, attempts: w.attempts }] };
  }

  /**
   * The apply stopped before `offset` once more: the attempt number and the delay before the next.
   * `woken`: this retry came before its time because another partition moved; before the
   * scheduled time it is not counted (`counted` false) and the schedule stays.
   */
  waited(
    partition: number,
    offset: bigint,
    opts: { woken?: boolean; lock?: boolean } = {},
  ): { attempt: number; afterMs: number; counted: boolean; lockedMs?: number } {
    const w = this.waiting.get(partition);
    const now = this.now();
    if (opts.lock) {
      // a lock wait (sink: `lock-wait`) is no unique conflict: never an attempt, but its own
      // growing delay, so a lock held outside the pipeline is not asked for 10 times a second;
      // `lockedMs`: how long this event has been waiting for locks (the caller reports a long one)
      const locks = w?.offset === offset ? (w.lockWaits ?? 0) + 1 : 1;
      const afterMs = backoffMs(Math.min(locks, 6) + 1, CONFLICT_BACKOFF);
      const kept = w?.offset === offset ? w : { offset, attempts: 0, dueAt: now };
      const lockSince = kept.lockSince ?? now;
      this.waiting.set(partition, { ...kept, lockWaits: locks, lockSince });
      return { attempt: kept.attempts, afterMs, counted: false, lockedMs: now - lockSince };
    }
    if (opts.woken && w?.offset === offset && now < w.dueAt)
      return { attempt: w.attempts, afterMs: w.dueAt - now, counted: false };
    const attempt = w?.offset === offset ? w.attempts + 1 : 1;
    const afterMs = backoffMs(Math.min(attempt, 6) + 1, CONFLICT_BACKOFF);
    this.waiting.set(partition, {
      ...(w?.offset === offset ? w : {}),
      offset,
      attempts: attempt,
      dueAt: now + afterMs,
    });
    return { attempt, afterMs, counted: true };
  }

  /** The partition applied everything before `next`: an event it waited on there is resolved. */
  settled(partition: number, next: bigint): void {
    const w = this.waiting.get(partition);
    if (w && w.offset < next) this.waiting.delete(partition);
  }

  /** partitions waiting (for tests and bounds) */
  get size(): number {
    return this.waiting.size;
  }
}
