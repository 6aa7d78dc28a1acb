// Unique-conflict waiting: the attempts of the event a partition waits on are counted until it is
// applied or dead-lettered, and the bookkeeping stays bounded (one entry per waiting partition),
// however many conflicts a long-running consumer resolves.
import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { UniqueConflicts } from '../../../../consumers/group/conflicts.ts';
import { createConflictWaits, type LongLockWait } from '../../../../consumers/group/waits.ts';
import type { DecodedEvent } from '../../../../consumers/sink.ts';
import { changeEvent } from '../../support/events.ts';

const ev = (offset: bigint): DecodedEvent => ({ offset, key: { id: offset }, event: changeEvent() });

describe('UniqueConflicts', () => {
  it('counts the attempts of a waiting event and dead-letters it after maxAttempts', () => {
    const c = new UniqueConflicts(3);
    expect([1, 2, 3].map(() => c.waited(0, 10n).attempt)).toEqual([1, 2, 3]);
    const { events, exhausted } = c.admit(0, [ev(10n), ev(11n)]);
    expect(events.map((e) => e.offset)).toEqual([11n]);
    expect(exhausted.map((x) => [x.event.offset, x.attempts])).toEqual([[10n, 3]]);
    expect(c.size).toBe(0);
    // the same offset of another partition is another event
    c.waited(1, 10n);
    expect(c.admit(0, [ev(10n)]).exhausted).toEqual([]);
  });

  it('waits 200 ms after the first attempt, doubling up to 5 s', () => {
    const c = new UniqueConflicts(40);
    expect(Array.from({ length: 8 }, () => c.waited(0, 5n).afterMs)).toEqual([
      200, 400, 800, 1600, 3200, 5000, 5000, 5000,
    ]);
  });

  it('stays bounded: a resolved conflict is forgotten, at most one entry per partition', () => {
    const c = new UniqueConflicts(40);
    for (let o = 0n; o < 10_000n; o++) {
      const p = Number(o % 3n);
      c.waited(p, o);
      c.waited(p, o);
      c.settled(p, o + 1n); // applied: the partition moved past it
    }
    expect(c.size).toBe(0);
    for (let o = 0n; o < 1_000n; o++) c.waited(Number(o % 3n), o); // moves on to later offsets
    expect(c.size).toBe(3);
  });

  it('a chunk that ends before the waiting event does not forget it', () => {
    const c = new UniqueConflicts(40);
    c.waited(0, 100n);
    c.waited(0, 100n);
    c.settled(0, 50n);
    expect(c.waited(0, 100n).attempt).toBe(3);
  });
});

describe('UniqueConflicts woken early', () => {
  it('a retry before its time (woken) is no attempt and keeps the schedule', () => {
    let now = 1_000;
    const c = new UniqueConflicts(3, () => now);
    expect(c.waited(0, 10n)).toEqual({ attempt: 1, afterMs: 200, counted: true });
    now += 50; // another partition moved: woken after 50 of the 200 ms
    expect(c.waited(0, 10n, { woken: true })).toEqual({ attempt: 1, afterMs: 150, counted: false });
    now += 150; // the scheduled time: this retry counts
    expect(c.waited(0, 10n, { woken: true })).toEqual({ attempt: 2, afterMs: 400, counted: true });
    now += 400;
    expect(c.waited(0, 10n)).toMatchObject({ attempt: 3, counted: true });
    // however often it is woken, it is dead-lettered after maxAttempts, not sooner
    expect(c.admit(0, [ev(10n)]).exhausted.map((x) => x.attempts)).toEqual([3]);
  });

  it('woken for another offset than it waited on: a first attempt', () => {
    let now = 0;
    const c = new UniqueConflicts(3, () => now);
    c.waited(0, 10n);
    now += 10;
    expect(c.waited(0, 11n, { woken: true })).toEqual({ attempt: 1, afterMs: 200, counted: true });
  });
});

describe('UniqueConflicts lock waits', () => {
  it('a lock wait is never an attempt: the event is not dead-lettered for it, its delay grows', () => {
    const c = new UniqueConflicts(3);
    const waits = Array.from({ length: 8 }, () => c.waited(0, 10n, { lock: true }));
    expect(waits.map((w) => w.counted)).toEqual(Array(8).fill(false));
    expect(waits.map((w) => w.afterMs)).toEqual([200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
    expect(c.admit(0, [ev(10n)]).exhausted).toEqual([]);
    // unique conflicts of the same event still count from where they were
    expect([1, 2, 3].map(() => c.waited(0, 10n).attempt)).toEqual([1, 2, 3]);
    expect(c.admit(0, [ev(10n)]).exhausted.map((x) => x.attempts)).toEqual([3]);
  });

  it('tells how long the event has waited for locks, from its first lock wait', () => {
    let now = 1_000;
    const c = new UniqueConflicts(3, () => now);
    expect(c.waited(0, 10n, { lock: true }).lockedMs).toBe(0);
    now += 4_000;
    expect(c.waited(0, 10n, { lock: true }).lockedMs).toBe(4_000);
    now += 2_000;
    expect(c.waited(0, 10n, { lock: true }).lockedMs).toBe(6_000);
    // another event of the partition starts its own clock
    expect(c.waited(0, 11n, { lock: true }).lockedMs).toBe(0);
    expect(c.waited(0, 11n).lockedMs).toBeUndefined();
  });
});

describe('createConflictWaits: a long lock wait is reported', () => {
  it('calls onLongLock on every lock-wait retry once the event waited lockLimitMs, never before', () => {
    vi.useFakeTimers({ now: 0 });
    try {
      const long: LongLockWait[] = [];
      const waits = createConflictWaits({
        attempts: 3,
        log: pino({ level: 'silent' }),
        lockLimitMs: 5_000,
        onLongLock: (w) => long.push(w),
      });
      const at = { topic: 't', partition: 2 };
      const lockWait = {
        offset: 7n,
        reason: 'lock-wait' as const,
        error: 'canceling statement due to lock timeout',
      };
      for (const t of [0, 2_000, 4_999]) {
        vi.setSystemTime(t);
        expect(waits.outcome(at, 7n, 7n, lockWait).kind).toBe('retry-from');
      }
      expect(long).toEqual([]);
      for (const t of [5_000, 9_000]) {
        vi.setSystemTime(t);
        waits.outcome(at, 7n, 7n, lockWait);
      }
      expect(long.map((w) => [w.partition, w.offset, w.lockedMs])).toEqual([
        [2, 7n, 5_000],
        [2, 7n, 9_000],
      ]);
      expect(long[0]!.error).toMatch(/lock timeout/);
      // a unique-conflict wait is not a lock wait
      waits.outcome({ topic: 't', partition: 3 }, 1n, 1n, {
        offset: 1n,
        reason: 'secondary-unique',
        error: 'dup',
      });
      expect(long).toHaveLength(2);
    } finally {
      vi.useRealTimers();
    }
  });
});
