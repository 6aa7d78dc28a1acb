import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../pipeline/errors.ts';
import { distinctConsumers, parseReplayTo, planPartitions, usToIso } from '../../../ops/replay.ts';

const ends = [
  { partition: 1, low: 0n, high: 50n },
  { partition: 0, low: 10n, high: 100n },
];
const committed = [
  { partition: 0, offset: 100n },
  { partition: 1, offset: 40n },
];

describe('parseReplayTo', () => {
  it.each([
    ['earliest', { kind: 'earliest' }],
    ['LATEST', { kind: 'latest' }],
    ['2026-11-27T10:00:00Z', { kind: 'time', ms: Date.UTC(2026, 10, 27, 10) }],
    ['2026-11-27T11:00:00.5+01:00', { kind: 'time', ms: Date.UTC(2026, 10, 27, 10, 0, 0, 500) }],
    ['2026-11-27', { kind: 'time', ms: Date.UTC(2026, 10, 27) }],
  ])('%s', (spec, want) => {
    expect(parseReplayTo(spec)).toEqual(want);
  });

  it('partition:offset lists', () => {
    const to = parseReplayTo('0:12, 2:7');
    expect(to).toEqual({
      kind: 'offsets',
      offsets: new Map([
        [0, 12n],
        [2, 7n],
      ]),
    });
  });

  it.each([
    ['2026-11-27T10:00:00', /time zone/],
    ['yesterday', /earliest, latest/],
    ['0:1,0:2', /twice/],
    ['', /not a replay position/],
  ])('rejects %j with a hint', (spec, hint) => {
    let err: unknown;
    try {
      parseReplayTo(spec);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect(`${(err as ConfigError).message} ${(err as ConfigError).hint}`).toMatch(hint);
  });
});

describe('planPartitions', () => {
  it('earliest replays everything from the low watermark, per partition in order', () => {
    const plan = planPartitions({ kind: 'earliest' }, ends, committed);
    expect(plan.map((p) => [p.partition, p.current, p.next, p.replays, p.skips])).toEqual([
      [0, 100n, 10n, 90n, 0n],
      [1, 40n, 0n, 40n, 0n],
    ]);
  });

  it('latest skips what is not applied yet', () => {
    const plan = planPartitions({ kind: 'latest' }, ends, committed);
    expect(plan.map((p) => [p.next, p.replays, p.skips])).toEqual([
      [100n, 0n, 0n],
      [50n, 0n, 10n],
    ]);
  });

  it('a group without committed offsets starts at the low watermark', () => {
    const plan = planPartitions({ kind: 'earliest' }, ends, []);
    expect(plan.map((p) => [p.committed, p.current, p.replays])).toEqual([
      [-1n, 10n, 0n],
      [-1n, 0n, 0n],
    ]);
  });

  it('time: the broker offsets, clamped; -1 (no message after) means the end', () => {
    const plan = planPartitions({ kind: 'time', ms: 0 }, ends, committed, [
      { partition: 0, offset: 5n },
      { partition: 1, offset: -1n },
    ]);
    expect(plan.map((p) => [p.next, p.replays])).toEqual([
      [10n, 90n],
      [50n, 0n],
    ]);
  });

  it('offsets: listed partitions move, others stay; out of range is refused', () => {
    const plan = planPartitions({ kind: 'offsets', offsets: new Map([[1, 30n]]) }, ends, committed);
    expect(plan.map((p) => [p.next, p.replays])).toEqual([
      [100n, 0n],
      [30n, 10n],
    ]);
    expect(() => planPartitions({ kind: 'offsets', offsets: new Map([[1, 51n]]) }, ends, committed)).toThrow(
      /outside partition 1's offsets 0..50/,
    );
    expect(() => planPartitions({ kind: 'offsets', offsets: new Map([[7, 1n]]) }, ends, committed)).toThrow(
      /partition 7/,
    );
  });
});

it('usToIso keeps microseconds', () => {
  expect(usToIso(1_795_822_391_096_646n)).toBe('2026-11-27T23:33:11.096646Z');
});

describe('distinctConsumers', () => {
  const m = (memberId: string) => ({ memberId, clientId: 'pgcdc', host: '/127.0.0.1' });
  it.each([
    { rounds: [], n: 0 },
    { rounds: [[m('a')]], n: 1 },
    // the one consumer rejoined (new member id) before the commit and was removed again
    { rounds: [[m('a')], [m('b')]], n: 1 },
    { rounds: [[m('a'), m('b')], [m('c')]], n: 2 },
    { rounds: [[m('a')], [m('b'), m('c')]], n: 2 },
  ])('$rounds.length round(s) -> $n', ({ rounds, n }) => {
    expect(distinctConsumers(rounds)).toBe(n);
  });
});
