// Unique-conflict waiting: an event that violates a unique key other than the primary key usually
// waits for another partition to move the conflicting value away, so the sink stops before it and
// the partition is retried from there after a growing delay. An event still conflicting after
// `maxAttempts` retries is dead-lettered instead of blocking its partition forever. Pure.
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
  private readonly waiting = new Map<number, { offset: bigint; attempts: number }>();
  constructor(private readonly maxAttempts: number) {}

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

  /** The apply stopped before `offset` once more: the attempt number and the delay before the next. */
  waited(partition: number, offset: bigint): { attempt: number; afterMs: number } {
    const w = this.waiting.get(partition);
    const attempt = w?.offset === offset ? w.attempts + 1 : 1;
    this.waiting.set(partition, { offset, attempts: attempt });
    return { attempt, afterMs: backoffMs(Math.min(attempt, 6) + 1, CONFLICT_BACKOFF) };
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
