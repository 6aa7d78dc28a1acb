// Unique-conflict waiting: an event that violates a unique key other than the primary key usually
// waits for another partition to move the conflicting value away, so the sink stops before it and
// the partition is retried from there after a growing delay. An event still conflicting after
// `maxAttempts` retries is dead-lettered instead of blocking its partition forever. Pure.
import { backoffMs, type BackoffOptions } from '../../pipeline/retry.ts';
import type { DecodedEvent } from '../sink.ts';

/** Delay before retrying a waiting event: 200 ms after the first wait, doubling, capped at 5 s. */
export const CONFLICT_BACKOFF: BackoffOptions = { initialMs: 100, maxMs: 5_000 };

export class UniqueConflicts {
  private readonly attempts = new Map<string, number>();
  constructor(private readonly maxAttempts: number) {}

  /** Splits off the events that waited `maxAttempts` times already: they go to the dead-letter topic. */
  admit(
    partition: number,
    events: DecodedEvent[],
  ): { events: DecodedEvent[]; exhausted: { event: DecodedEvent; attempts: number }[] } {
    const exhausted: { event: DecodedEvent; attempts: number }[] = [];
    const admitted = events.filter((event) => {
      const k = `${partition}:${event.offset}`;
      const n = this.attempts.get(k) ?? 0;
      if (n < this.maxAttempts) return true;
      this.attempts.delete(k);
      exhausted.push({ event, attempts: n });
      return false;
    });
    return { events: admitted, exhausted };
  }

  /** The apply stopped before `offset` once more: the attempt number and the delay before the next. */
  waited(partition: number, offset: bigint): { attempt: number; afterMs: number } {
    const k = `${partition}:${offset}`;
    const attempt = (this.attempts.get(k) ?? 0) + 1;
    this.attempts.set(k, attempt);
    return { attempt, afterMs: backoffMs(Math.min(attempt, 6) + 1, CONFLICT_BACKOFF) };
  }

  /** events being counted (for tests and bounds) */
  get size(): number {
    return this.attempts.size;
  }
}
