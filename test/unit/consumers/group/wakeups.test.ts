// Early wake-ups: a waiting partition's signal fires when another partition of its topic moves,
// not when it moves itself or a partition of another topic does; a wake-up is reported once.
import { describe, expect, it } from 'vitest';
import { createWakeups } from '../../../../consumers/group/wakeups.ts';

describe('createWakeups', () => {
  it('wakes the waiting partitions of the topic when another of its partitions moves', () => {
    const w = createWakeups();
    const p0 = w.waiting('t', 0);
    const p1 = w.waiting('t', 1);
    const other = w.waiting('u', 0);
    w.moved('t', 0);
    expect([p0.aborted, p1.aborted, other.aborted]).toEqual([false, true, false]);
    expect(w.wasWoken('t', 1)).toBe(true);
    expect(w.wasWoken('t', 1)).toBe(false); // reported once
    expect(w.wasWoken('t', 0)).toBe(false);
    w.moved('t', 1);
    expect(p0.aborted).toBe(true);
    expect(w.wasWoken('u', 0)).toBe(false);
  });

  it('forgets a woken partition: a later move does not report it again', () => {
    const w = createWakeups();
    w.waiting('t', 2);
    w.moved('t', 0);
    w.moved('t', 1);
    expect(w.wasWoken('t', 2)).toBe(true);
    expect(w.wasWoken('t', 2)).toBe(false);
  });
});
