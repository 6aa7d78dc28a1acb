// Lanes: batches handled at the same time each get a sink of their own (made and opened when
// first needed, then reused), never more than the lane count; a single sink without a maker.
import { describe, expect, it } from 'vitest';
import { createLanes } from '../../../../consumers/group/lanes.ts';
import { createPersist } from '../../../../consumers/group/retrying.ts';
import type { Sink } from '../../../../consumers/sink.ts';

const lease = { heartbeat: () => Promise.resolve(), isStale: () => false };
const persist = createPersist({
  backoff: { initialMs: 1, maxMs: 2 },
  signal: new AbortController().signal,
  onFailure: () => undefined,
});

function fakeSink(log: string[], id: string): Sink {
  return {
    kind: 'fake',
    open: () => (log.push(`open ${id}`), Promise.resolve()),
    apply: (events) => Promise.resolve({ applied: events, deadLetters: [] }),
    close: () => (log.push(`close ${id}`), Promise.resolve()),
  };
}

describe('createLanes', () => {
  it('gives concurrent batches distinct sinks, opened once, reused afterwards', async () => {
    const log: string[] = [];
    let n = 0;
    const lanes = createLanes({
      first: fakeSink(log, 's0'),
      more: () => fakeSink(log, `s${++n}`),
      count: 3,
      persist,
    });
    await lanes.openFirst();
    const seen: unknown[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const held = [1, 2, 3].map(() =>
      lanes.with(lease, async (lane) => {
        seen.push(lane);
        await gate;
      }),
    );
    await new Promise((r) => setTimeout(r, 10));
    expect(new Set(seen).size).toBe(3);
    release();
    await Promise.all(held);
    await lanes.with(lease, (lane) => Promise.resolve(seen.push(lane)));
    expect(new Set(seen).size).toBe(3); // reused, none made
    await lanes.close();
    expect(log).toEqual(['open s0', 'open s1', 'open s2', 'close s0', 'close s1', 'close s2']);
  });

  it('without a maker there is one lane, and a second batch at once is a defect', async () => {
    const log: string[] = [];
    const lanes = createLanes({ first: fakeSink(log, 's0'), more: undefined, count: 3, persist });
    expect(lanes.count).toBe(1);
    await lanes.openFirst();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const first = lanes.with(lease, () => gate);
    await expect(lanes.with(lease, () => Promise.resolve())).rejects.toThrow(/lane/);
    release();
    await first;
  });
});

describe('lanes sharing one probe of a failing target', () => {
  it('a lane waiting for the probing lane goes as soon as its own batch is given up', async () => {
    const stop = new AbortController(); // ends the probing lane's long backoff at the end
    const slow = createPersist({
      backoff: { initialMs: 60_000, maxMs: 60_000 },
      signal: stop.signal,
      onFailure: () => undefined,
    });
    const failing: Sink = {
      kind: 'fake',
      open: () => Promise.resolve(),
      apply: () => Promise.reject(new Error('target down')),
      close: () => Promise.resolve(),
    };
    let n = 0;
    const lanes = createLanes({ first: failing, more: () => (n++, failing), count: 2, persist: slow });
    await lanes.openFirst();
    const ctx = (stale: () => boolean) => ({ ...lease, isStale: stale, reportError: () => undefined });
    // lane 1 fails and probes: it sleeps out a 60 s backoff before its next attempt
    const probing = lanes.with(lease, (lane) =>
      lane.apply(
        [],
        ctx(() => stop.signal.aborted),
      ),
    );
    await new Promise((r) => setTimeout(r, 20));
    // lane 2 waits for the probe; its batch is revoked meanwhile
    let revoked = false;
    const started = Date.now();
    const waiting = lanes.with(lease, (lane) =>
      lane.apply(
        [],
        ctx(() => revoked),
      ),
    );
    await new Promise((r) => setTimeout(r, 20));
    revoked = true;
    await expect(waiting).resolves.toBeUndefined(); // given up, not applied
    expect(Date.now() - started).toBeLessThan(5_000); // not after the probing lane's 60 s backoff
    expect(n).toBe(1);
    stop.abort();
    await expect(probing).resolves.toBeUndefined();
    await lanes.close();
  });
});
