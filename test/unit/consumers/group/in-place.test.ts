// Waiting in place (consumers/group/in-place.ts): a batch waiting for another partition while other
// lanes apply is woken by its wake signal (retry now) or ends its wait when no other lane applies
// any more; however long it waits, it holds one subscription to lane releases, not one per round.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createInPlaceWaits } from '../../../../consumers/group/in-place.ts';
import { STALE_CHECK_MS } from '../../../../consumers/group/lanes.ts';

function fakeLanes(busy: number) {
  const listeners = new Set<() => void>();
  const lanes = {
    busy: () => busy,
    onRelease(listener: () => void) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
  };
  const release = () => {
    busy--;
    for (const l of [...listeners]) l();
  };
  return { lanes, listeners, release };
}

const ctx = {
  heartbeat: () => Promise.resolve(),
  isStale: () => false,
  recordSpan: () => Promise.resolve(true),
};

describe('createInPlaceWaits', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('a long wait holds one release subscription, and ends when the other lanes are done', async () => {
    const { lanes, listeners, release } = fakeLanes(2); // this batch's lane and one other
    const waitInPlace = createInPlaceWaits({ lanes, stopping: new AbortController().signal, enabled: true });
    const wake = new AbortController();
    let result: boolean | undefined;
    void waitInPlace({ kind: 'retry-from', offset: 5n, afterMs: 250, wake: wake.signal }, ctx).then(
      (r) => (result = r),
    );
    await vi.advanceTimersByTimeAsync(STALE_CHECK_MS * 50);
    expect(result).toBeUndefined();
    expect(listeners.size).toBe(1);
    release(); // the other lane's batch is handled: nothing left to wait for in place
    await vi.advanceTimersByTimeAsync(0);
    expect(result).toBe(false);
    expect(listeners.size).toBe(0);
  });

  it('woken, it retries at once', async () => {
    const { lanes, listeners } = fakeLanes(2);
    const waitInPlace = createInPlaceWaits({ lanes, stopping: new AbortController().signal, enabled: true });
    const wake = new AbortController();
    let result: boolean | undefined;
    void waitInPlace({ kind: 'retry-from', offset: 5n, afterMs: 250, wake: wake.signal }, ctx).then(
      (r) => (result = r),
    );
    await vi.advanceTimersByTimeAsync(STALE_CHECK_MS * 3);
    wake.abort();
    await vi.advanceTimersByTimeAsync(0);
    expect(result).toBe(true);
    expect(listeners.size).toBe(0);
  });

  it('does not wait when disabled, without a wake signal, or alone', async () => {
    const { lanes } = fakeLanes(2);
    const stopping = new AbortController().signal;
    const wake = new AbortController().signal;
    const outcome = { kind: 'retry-from', offset: 5n, afterMs: 250, wake } as const;
    expect(await createInPlaceWaits({ lanes, stopping, enabled: false })(outcome, ctx)).toBe(false);
    const unwoken = { kind: 'retry-from', offset: 5n, afterMs: 250 } as const;
    expect(await createInPlaceWaits({ lanes, stopping, enabled: true })(unwoken, ctx)).toBe(false);
    const alone = fakeLanes(1).lanes;
    expect(await createInPlaceWaits({ lanes: alone, stopping, enabled: true })(outcome, ctx)).toBe(false);
  });
});
