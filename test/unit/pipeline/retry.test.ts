// pipeline/retry.ts: the one backoff policy (delays, reset, jitter) and the retry loop around it.
import { describe, expect, it } from 'vitest';
import { backoffMs, createBackoff, retryUntil, sleep } from '../../../pipeline/retry.ts';

describe('createBackoff', () => {
  it('doubles from the initial delay and stays at the cap', () => {
    const b = createBackoff({ initialMs: 500, maxMs: 5_000 });
    expect(Array.from({ length: 7 }, () => b.next())).toEqual([500, 1000, 2000, 4000, 5000, 5000, 5000]);
  });

  it('starts again from the initial delay after reset()', () => {
    const b = createBackoff({ initialMs: 100, maxMs: 10_000 });
    b.next();
    b.next();
    b.reset();
    expect(b.next()).toBe(100);
  });

  it('reduces each delay by at most the jitter fraction', () => {
    const b = createBackoff({ initialMs: 1000, maxMs: 8000, jitter: 0.5 }, () => 1);
    expect([b.next(), b.next(), b.next()]).toEqual([500, 1000, 2000]);
    const none = createBackoff({ initialMs: 1000, maxMs: 8000, jitter: 0.5 }, () => 0);
    expect([none.next(), none.next()]).toEqual([1000, 2000]);
  });

  it('backoffMs gives the n-th delay of a fresh schedule', () => {
    expect(backoffMs(1, { initialMs: 250, maxMs: 1000 })).toBe(250);
    expect(backoffMs(3, { initialMs: 250, maxMs: 1000 })).toBe(1000);
    expect(backoffMs(200, { initialMs: 250, maxMs: 1000 })).toBe(1000);
  });

  it('backoffMs jitters only the delay it returns, with one draw', () => {
    let draws = 0;
    const ms = backoffMs(3, { initialMs: 1000, maxMs: 8000, jitter: 0.5 }, () => (draws++, 1));
    expect(ms).toBe(2000);
    expect(draws).toBe(1);
  });
});

describe('retryUntil', () => {
  const fast = { initialMs: 1, maxMs: 4 };

  it('retries until success and reports each wait', async () => {
    const seen: number[] = [];
    let calls = 0;
    const v = await retryUntil(
      () => (++calls < 4 ? Promise.reject(new Error(`fail ${calls}`)) : Promise.resolve('ok')),
      { backoff: fast, onRetry: ({ delayMs }) => void seen.push(delayMs) },
    );
    expect(v).toBe('ok');
    expect(seen).toEqual([1, 2, 4]);
  });

  it('rethrows a non-retriable error at once', async () => {
    let calls = 0;
    await expect(
      retryUntil(
        () => {
          calls++;
          return Promise.reject(new Error('fatal'));
        },
        { backoff: fast, retriable: () => false },
      ),
    ).rejects.toThrow('fatal');
    expect(calls).toBe(1);
  });

  it('gives up after maxAttempts with the last error', async () => {
    let calls = 0;
    await expect(
      retryUntil(() => Promise.reject(new Error(`try ${++calls}`)), { backoff: fast, maxAttempts: 3 }),
    ).rejects.toThrow('try 3');
  });

  it('an abort cuts a long wait short and throws the last error', async () => {
    const ac = new AbortController();
    const started = Date.now();
    const p = retryUntil(() => Promise.reject(new Error('down')), {
      backoff: { initialMs: 60_000, maxMs: 60_000 },
      signal: ac.signal,
      onRetry: () => ac.abort(),
    });
    await expect(p).rejects.toThrow('down');
    expect(Date.now() - started).toBeLessThan(30_000);
  });
});

describe('sleep', () => {
  it('resolves at once when already aborted', async () => {
    const ac = new AbortController();
    ac.abort();
    await sleep(60_000, ac.signal);
    expect(ac.signal.aborted).toBe(true);
  });
});
