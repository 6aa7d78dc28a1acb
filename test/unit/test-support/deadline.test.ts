// startAllOrNone: a set-up that starts several things together leaves nothing running when one of
// them fails or hangs, not even one that finishes starting after its deadline.
import { describe, expect, it } from 'vitest';
import { DeadlineError, startAllOrNone } from '../../support/deadline.ts';

function thing(name: string, log: string[]) {
  return { name, stop: () => (log.push(`stop ${name}`), Promise.resolve()) };
}

describe('startAllOrNone', () => {
  it('gives every started thing when all start', async () => {
    const log: string[] = [];
    const all = await startAllOrNone(
      ['a', 'b'].map((n) => ({ what: n, start: Promise.resolve(thing(n, log)) })),
      1_000,
      1_000,
    );
    expect(all.map((t) => t.name)).toEqual(['a', 'b']);
    expect(log).toEqual([]);
  });

  it('stops the started ones and throws the failure', async () => {
    const log: string[] = [];
    await expect(
      startAllOrNone(
        [
          { what: 'a', start: Promise.resolve(thing('a', log)) },
          { what: 'b', start: Promise.reject(new Error('b cannot start')) },
          { what: 'c', start: Promise.resolve(thing('c', log)) },
        ],
        1_000,
        1_000,
      ),
    ).rejects.toThrow('b cannot start');
    expect(log.sort()).toEqual(['stop a', 'stop c']);
  });

  it('stops one that hung past its deadline as soon as it has started', async () => {
    const log: string[] = [];
    let finish: (t: ReturnType<typeof thing>) => void = () => undefined;
    const slow = new Promise<ReturnType<typeof thing>>((resolve) => (finish = resolve));
    await expect(
      startAllOrNone(
        [
          { what: 'a', start: Promise.resolve(thing('a', log)) },
          { what: 'slow', start: slow },
        ],
        20,
        1_000,
      ),
    ).rejects.toBeInstanceOf(DeadlineError);
    expect(log).toEqual(['stop a']);
    finish(thing('slow', log));
    await slow;
    await Promise.resolve(); // the stop chained on its start runs next
    expect(log).toEqual(['stop a', 'stop slow']);
  });
});
