// consumers/webhook/limiter.ts: at most `slots` holders at once, waiters served first come, first served.
import { describe, expect, it } from 'vitest';
import { createRequestLimiter } from '../../../../consumers/webhook/limiter.ts';

describe('createRequestLimiter', () => {
  it('lets `slots` requests through and hands each freed slot to the longest waiting one', async () => {
    const limiter = createRequestLimiter(2);
    const order: string[] = [];
    await limiter.acquire();
    await limiter.acquire();
    const waiting = ['a', 'b'].map((name) => limiter.acquire().then(() => order.push(name)));
    await Promise.resolve();
    expect(order).toEqual([]);
    limiter.release();
    await waiting[0];
    expect(order).toEqual(['a']);
    limiter.release();
    await waiting[1];
    expect(order).toEqual(['a', 'b']);
    limiter.release();
    limiter.release();
    // both slots free again: two acquire at once, a third waits
    await limiter.acquire();
    await limiter.acquire();
    let third = false;
    void limiter.acquire().then(() => (third = true));
    await Promise.resolve();
    expect(third).toBe(false);
  });
});
