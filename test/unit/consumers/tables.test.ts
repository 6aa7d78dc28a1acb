// consumers/tables.ts: a target's events reach the sink of their own table, in order, in runs of
// one table; a wait in one run stops the chunk there; a retried open opens only what is not open.
import { describe, expect, it } from 'vitest';
import type { ApplyResult, DecodedEvent, Sink } from '../../../consumers/sink.ts';
import { routeByTable, runsByTable } from '../../../consumers/tables.ts';

const ev = (offset: number, table: string): DecodedEvent =>
  ({
    offset: BigInt(offset),
    key: { id: BigInt(offset) },
    event: { op: 'c', source: { schema: 'public', table } },
  }) as unknown as DecodedEvent;

function recording(name: string, opts: { waitAt?: number; failOpen?: number } = {}) {
  const seen: number[] = [];
  let opens = 0;
  const sink: Sink = {
    kind: 'postgres',
    open() {
      opens++;
      return opens <= (opts.failOpen ?? 0) ? Promise.reject(new Error(`${name} down`)) : Promise.resolve();
    },
    apply(events): Promise<ApplyResult> {
      const i = events.findIndex((e) => Number(e.offset) === opts.waitAt);
      const done = i < 0 ? events : events.slice(0, i);
      seen.push(...done.map((e) => Number(e.offset)));
      return Promise.resolve(
        i < 0
          ? { applied: done, deadLetters: [] }
          : {
              applied: done,
              deadLetters: [],
              retryFrom: { offset: events[i]!.offset, reason: 'wait', error: 'x' },
            },
      );
    },
    close: () => Promise.resolve(),
  };
  return { sink, seen, opens: () => opens };
}

describe('routing by table', () => {
  it('cuts a chunk into runs of one table, in order', () => {
    const runs = runsByTable([ev(1, 'a'), ev(2, 'a'), ev(3, 'b'), ev(4, 'a')]);
    expect(runs.map((r) => [r.table, r.events.map((e) => Number(e.offset))])).toEqual([
      ['public.a', [1, 2]],
      ['public.b', [3]],
      ['public.a', [4]],
    ]);
  });

  it("hands each table's events to its sink and merges what they applied", async () => {
    const a = recording('a');
    const b = recording('b');
    const sink = routeByTable(
      new Map([
        ['public.a', a.sink],
        ['public.b', b.sink],
      ]),
    );
    const r = await sink.apply([ev(1, 'a'), ev(2, 'b'), ev(3, 'a')]);
    expect(a.seen).toEqual([1, 3]);
    expect(b.seen).toEqual([2]);
    expect(r.applied.map((e) => Number(e.offset))).toEqual([1, 2, 3]);
  });

  it('a wait in one table stops the chunk there: nothing after it is applied', async () => {
    const a = recording('a', { waitAt: 2 });
    const b = recording('b');
    const sink = routeByTable(
      new Map([
        ['public.a', a.sink],
        ['public.b', b.sink],
      ]),
    );
    const r = await sink.apply([ev(1, 'a'), ev(2, 'a'), ev(3, 'b')]);
    expect(r.retryFrom?.offset).toBe(2n);
    expect(b.seen).toEqual([]);
  });

  it('refuses an event of a table the target does not receive', async () => {
    const sink = routeByTable(
      new Map([
        ['public.a', recording('a').sink],
        ['public.b', recording('b').sink],
      ]),
    );
    await expect(sink.apply([ev(1, 'c')])).rejects.toThrow(/public\.c, a table this target does not receive/);
  });

  it('a retried open opens only the tables not open yet; one table is its sink itself', async () => {
    const a = recording('a');
    const b = recording('b', { failOpen: 1 });
    const sink = routeByTable(
      new Map([
        ['public.a', a.sink],
        ['public.b', b.sink],
      ]),
    );
    await expect(sink.open()).rejects.toThrow(/b down/);
    await sink.open();
    expect([a.opens(), b.opens()]).toEqual([1, 2]);
    expect(routeByTable(new Map([['public.a', a.sink]]))).toBe(a.sink);
  });
});
