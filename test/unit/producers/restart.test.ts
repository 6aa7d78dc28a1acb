// The producer's restart schedule: today's delays kept when the loop moved to pipeline/retry.ts.
import { describe, expect, it } from 'vitest';
import { restartSchedule } from '../../../producers/producer.ts';

describe('producer restart schedule', () => {
  it('doubles from 500 ms to 15 s for retriable failures', () => {
    const s = restartSchedule();
    const delays = Array.from({ length: 8 }, () => s.next(true, 10));
    expect(delays).toEqual([500, 1000, 2000, 4000, 8000, 15_000, 15_000, 15_000]);
  });

  it('doubles to 60 s for non-retriable failures', () => {
    const s = restartSchedule();
    const delays = Array.from({ length: 9 }, () => s.next(false, 10));
    expect(delays).toEqual([500, 1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000]);
  });

  it('starts again from 500 ms after a session that ran healthy for more than a minute', () => {
    const s = restartSchedule();
    for (let i = 0; i < 5; i++) s.next(true, 10);
    expect(s.next(true, 60_001)).toBe(500);
    expect(s.next(true, 10)).toBe(1000);
  });
});
