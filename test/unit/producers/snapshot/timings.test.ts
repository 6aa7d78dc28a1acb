// producers/snapshot/timings.ts: the snapshot's per-stage wall time. Stages add up, a timed
// promise counts whichever way it settles, every stage is reported (0 when not seen), reset
// starts over.
import { describe, expect, it } from 'vitest';
import { SNAPSHOT_STAGES, StageTimings } from '../../../../producers/snapshot/timings.ts';

describe('StageTimings', () => {
  it('sums each stage and reports every stage', async () => {
    let t = 0;
    const timings = new StageTimings(() => t);
    timings.add('query', 1.4);
    timings.add('query', 2.2);
    const since = timings.now();
    t = 10;
    timings.since('window', since);
    let open: (v: number) => void = () => undefined;
    const ok = timings.time('gate', new Promise<number>((resolve) => (open = resolve)));
    t = 15;
    open(7);
    expect(await ok).toBe(7);
    const failed = timings.time('checkpoint', Promise.reject(new Error('gone')));
    await expect(failed).rejects.toThrow('gone');
    const totals = timings.totals();
    expect(Object.keys(totals)).toEqual([...SNAPSHOT_STAGES]);
    expect(totals).toMatchObject({ query: 4, window: 10, gate: 5, checkpoint: 0, emit: 0 });
    timings.reset();
    expect(Object.values(timings.totals()).every((ms) => ms === 0)).toBe(true);
  });
});
