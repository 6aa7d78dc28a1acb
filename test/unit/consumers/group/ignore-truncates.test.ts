// consumers/group/ignore-truncates.ts: onTruncate: ignore keeps truncates from the sink, counts
// each one in an audit line, and commits them (unless the sink asks to retry before them).
import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { ignoreTruncates } from '../../../../consumers/group/ignore-truncates.ts';
import type { ApplyResult, DecodedEvent, Sink } from '../../../../consumers/sink.ts';
import { changeEvent } from '../../support/events.ts';

function recordingSink(result: (events: DecodedEvent[]) => ApplyResult) {
  const seen: DecodedEvent[][] = [];
  const sink: Sink = {
    kind: 'test',
    open: () => Promise.resolve(),
    close: () => Promise.resolve(),
    apply: (events) => {
      seen.push(events);
      return Promise.resolve(result(events));
    },
  };
  return { sink, seen };
}

function logger() {
  const lines: Record<string, unknown>[] = [];
  const log = pino(
    { level: 'info' },
    { write: (l: string) => lines.push(JSON.parse(l) as Record<string, unknown>) },
  );
  return { log, lines };
}

const ev = (offset: bigint, op: 'c' | 't'): DecodedEvent => ({
  offset,
  key: op === 't' ? {} : { id: offset },
  event: changeEvent({ op, event_id: `e${offset}` }),
});

describe('ignoreTruncates', () => {
  it('the sink never sees a truncate; it counts as applied, with an audit line', async () => {
    const { sink, seen } = recordingSink((events) => ({ applied: events, deadLetters: [] }));
    const { log, lines } = logger();
    const s = ignoreTruncates(sink, { target: 'peer', logger: log });
    const r = await s.apply([ev(1n, 'c'), ev(2n, 't'), ev(3n, 'c')]);
    expect(seen.map((b) => b.map((e) => e.offset))).toEqual([[1n, 3n]]);
    expect(r.applied.map((e) => e.offset)).toEqual([1n, 2n, 3n]);
    expect(lines).toMatchObject([
      { level: 40, audit: true, target: 'peer', counts: { truncatesIgnored: 1 }, eventId: 'e2' },
    ]);
  });

  it('a batch of truncates only does not call the sink', async () => {
    const { sink, seen } = recordingSink(() => ({ applied: [], deadLetters: [] }));
    const r = await ignoreTruncates(sink, { target: 'peer', logger: logger().log }).apply([ev(7n, 't')]);
    expect(seen).toEqual([]);
    expect(r.applied.map((e) => e.offset)).toEqual([7n]);
  });

  it('a truncate at or after the point the sink retries from is retried, not committed', async () => {
    const { sink } = recordingSink((events) => ({
      applied: events.slice(0, 1),
      deadLetters: [],
      retryFrom: { offset: 3n, reason: 'secondary-unique', error: 'x' },
    }));
    const r = await ignoreTruncates(sink, { target: 'peer', logger: logger().log }).apply([
      ev(1n, 'c'),
      ev(2n, 't'),
      ev(3n, 'c'),
      ev(4n, 't'),
    ]);
    expect(r.applied.map((e) => e.offset)).toEqual([1n, 2n]);
    expect(r.retryFrom?.offset).toBe(3n);
  });
});
