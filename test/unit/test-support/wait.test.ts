// The tests' wait helper: every wait ends by its deadline, also when the awaited check never settles.
import { describe, expect, it } from 'vitest';
import { waitUntil } from '../../support/wait.ts';

describe('waitUntil', () => {
  it('resolves with the first value that is not undefined, null or false', async () => {
    let n = 0;
    await expect(
      waitUntil(() => (++n >= 3 ? n : false), { what: 'three checks', intervalMs: 1 }),
    ).resolves.toBe(3);
  });

  it('names what never happened, with the last error of the check', async () => {
    await expect(
      waitUntil(
        () => {
          throw new Error('not yet');
        },
        { what: 'the impossible', timeoutMs: 50, intervalMs: 5 },
      ),
    ).rejects.toThrow('timed out after 50 ms waiting for the impossible (last error: not yet)');
  });

  it('fails after the deadline and its grace when the check itself never settles', async () => {
    const started = Date.now();
    await expect(
      waitUntil(() => new Promise<boolean>(() => undefined), {
        what: 'a promise that hangs',
        timeoutMs: 100,
      }),
    ).rejects.toThrow('waiting for a promise that hangs (the check itself never settled)');
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it('accepts a slow last check that settles within the grace', async () => {
    const value = await waitUntil(
      () => new Promise<string>((resolve) => setTimeout(() => resolve('late'), 300)),
      {
        what: 'a slow check',
        timeoutMs: 100,
      },
    );
    expect(value).toBe('late');
  });
});
