// producers/snapshot/plan.ts: the checkpoint state machine. planJob decides from the checkpoint
// row what the feed does next; advanceScan moves the scan after a chunk's window closed. Tables
// of transitions, no I/O.
import { describe, expect, it } from 'vitest';
import {
  filterFingerprint,
  type Checkpoint,
  type CheckpointStatus,
} from '../../../../producers/snapshot/checkpoint.ts';
import {
  advanceScan,
  MAX_REQUEUES,
  planJob,
  type JobStep,
  type PlanContext,
  type ScanState,
} from '../../../../producers/snapshot/plan.ts';

function cp(status: CheckpointStatus, over: Partial<Checkpoint> = {}): Checkpoint {
  return {
    slot: 's',
    tableName: 'public.users',
    status,
    reason: null,
    snapshotId: status === 'requested' ? null : 'snap1',
    maxKey: '100',
    lastKey: null,
    pendingKeys: [],
    rowsDone: 0,
    rowsTotal: 100,
    events: 0,
    chunks: 0,
    resumes: 0,
    batchSize: 10,
    filterFingerprint: null,
    lastBatch: undefined,
    requestedAt: null,
    startedAt: null,
    updatedAt: new Date(0),
    finishedAt: null,
    ...over,
  };
}

const ctx = (over: Partial<PlanContext> = {}): PlanContext => ({
  mode: 'initial',
  slotIsNew: false,
  filterFingerprint: null,
  requested: false,
  ...over,
});

const FP = filterFingerprint('is_active AND NOT is_blocked');

describe('filterFingerprint', () => {
  it('is the sha256 of the filter text, null without one (the checkpoint never holds the SQL)', () => {
    expect(FP).toMatch(/^[0-9a-f]{64}$/);
    expect(FP).not.toContain('is_active');
    expect(filterFingerprint('is_active AND NOT is_blocked')).toBe(FP);
    expect(filterFingerprint('is_active')).not.toBe(FP);
    expect(filterFingerprint(undefined)).toBeNull();
    expect(filterFingerprint('')).toBeNull();
  });
});

describe('planJob', () => {
  const restartInitial = (previous: string | null, status: CheckpointStatus): JobStep => ({
    kind: 'restart',
    reason: 'initial',
    previous,
    status,
  });
  const table: [string, Checkpoint | undefined, PlanContext, JobStep][] = [
    ['no row, mode initial: request the first snapshot', undefined, ctx(), { kind: 'request-initial' }],
    ['no row, mode never: idle', undefined, ctx({ mode: 'never' }), { kind: 'idle' }],
    [
      'no row after a request (lost the race, row gone): idle',
      undefined,
      ctx({ requested: true }),
      { kind: 'idle' },
    ],
    ['requested: begin', cp('requested'), ctx(), { kind: 'begin' }],
    ['requested, mode never: begin', cp('requested'), ctx({ mode: 'never' }), { kind: 'begin' }],
    ['running: resume it', cp('running'), ctx(), { kind: 'resume', snapshotId: 'snap1' }],
    [
      'running without an id (torn row): begin',
      cp('running', { snapshotId: null }),
      ctx(),
      { kind: 'begin' },
    ],
    ['done: idle', cp('done'), ctx(), { kind: 'idle' }],
    [
      'done, mode never, new slot: idle',
      cp('done'),
      ctx({ mode: 'never', slotIsNew: true }),
      { kind: 'idle' },
    ],
    [
      'done, new slot, mode initial: feed again',
      cp('done'),
      ctx({ slotIsNew: true }),
      restartInitial('snap1', 'done'),
    ],
    [
      'running, new slot, mode initial: feed again from the start',
      cp('running'),
      ctx({ slotIsNew: true }),
      restartInitial('snap1', 'running'),
    ],
    [
      'requested, new slot: begin (already asked)',
      cp('requested'),
      ctx({ slotIsNew: true }),
      { kind: 'begin' },
    ],
    [
      'done, new slot, after a request: idle (one request per look)',
      cp('done'),
      ctx({ slotIsNew: true, requested: true }),
      { kind: 'idle' },
    ],
    [
      'running, begun with the configured filter: resume',
      cp('running', { filterFingerprint: FP }),
      ctx({ filterFingerprint: FP }),
      { kind: 'resume', snapshotId: 'snap1' },
    ],
    [
      'running, begun with another filter: start again',
      cp('running', { filterFingerprint: filterFingerprint('false') }),
      ctx({ filterFingerprint: FP }),
      { kind: 'restart', reason: 'filter-changed', previous: 'snap1', status: 'running' },
    ],
    [
      'running, begun with a filter, none configured now: start again',
      cp('running', { filterFingerprint: FP }),
      ctx(),
      { kind: 'restart', reason: 'filter-changed', previous: 'snap1', status: 'running' },
    ],
    [
      'running without a filter, one configured now: start again (also right after a request)',
      cp('running'),
      ctx({ filterFingerprint: FP, requested: true }),
      { kind: 'restart', reason: 'filter-changed', previous: 'snap1', status: 'running' },
    ],
    [
      'done with another filter: idle (a finished snapshot is not re-fed)',
      cp('done'),
      ctx({ filterFingerprint: FP }),
      { kind: 'idle' },
    ],
  ];
  it.each(table)('%s', (_what, row, c, want) => {
    expect(planJob(row, c)).toEqual(want);
  });
});

describe('advanceScan', () => {
  const start: ScanState = { lastKey: '10', pending: [], requeues: new Map() };
  const read = (scanKeys: string[], pendingKeys: string[] = [], limit = 3) => ({
    snapshotId: 'snap1',
    limit,
    scanKeys,
    pendingKeys,
  });

  it('a full chunk moves the scan to its last key and is not the end', () => {
    const step = advanceScan(start, read(['11', '12', '13']), { emitted: 3, requeue: [], reread: false });
    expect(step).toEqual({
      next: { lastKey: '13', pending: [], requeues: new Map() },
      done: {
        snapshotId: 'snap1',
        lastKey: '13',
        pendingKeys: [],
        rows: 3,
        events: 3,
        batch: { size: 3, firstKey: '11', lastKey: '13' },
      },
      finished: false,
      givenUp: [],
    });
  });

  it('a short chunk with nothing to read again is the end', () => {
    const step = advanceScan(start, read(['11']), { emitted: 1, requeue: [], reread: false });
    expect(step.finished).toBe(true);
    expect(step.done.lastKey).toBe('11');
  });

  it('an empty scan keeps the last key (the checkpoint keeps its own: lastKey null)', () => {
    const step = advanceScan({ ...start, pending: ['4'] }, read([], ['4']), {
      emitted: 1,
      requeue: [],
      reread: false,
    });
    expect(step.next.lastKey).toBe('10');
    expect(step.done).toMatchObject({
      lastKey: null,
      rows: 0,
      events: 1,
      batch: { size: 1, firstKey: '4', lastKey: '4' },
    });
    expect(step.finished).toBe(true);
  });

  it('requeued keys are read again: the scan is not finished while any is left', () => {
    const step = advanceScan(start, read(['11']), { emitted: 0, requeue: ['11'], reread: false });
    expect(step.next.pending).toEqual(['11']);
    expect(step.done.pendingKeys).toEqual(['11']);
    expect(step.finished).toBe(false);
    expect(step.next.requeues.get('11')).toBe(1);
  });

  it(`a key requeued more than ${MAX_REQUEUES} times is given up`, () => {
    let s: ScanState = { ...start, pending: ['7'] };
    for (let i = 1; i <= MAX_REQUEUES; i++) {
      const step = advanceScan(s, read([], ['7']), { emitted: 0, requeue: ['7'], reread: false });
      expect(step.givenUp).toEqual([]);
      s = step.next;
    }
    const last = advanceScan(s, read([], ['7']), { emitted: 0, requeue: ['7'], reread: false });
    expect(last.givenUp).toEqual(['7']);
    expect(last.next.pending).toEqual([]);
    expect(last.finished).toBe(true);
  });

  it('a chunk the window withheld (reread) leaves the scan where it was and checkpoints no rows', () => {
    const s: ScanState = { lastKey: '10', pending: ['3'], requeues: new Map([['3', 1]]) };
    const step = advanceScan(s, read(['11'], ['3']), { emitted: 0, requeue: [], reread: true });
    expect(step.next).toBe(s);
    expect(step.finished).toBe(false);
    expect(step.done).toEqual({
      snapshotId: 'snap1',
      lastKey: null,
      pendingKeys: ['3'],
      rows: 0,
      events: 0,
      batch: { size: 0, firstKey: null, lastKey: null },
    });
  });

  it('does not change the state it was given', () => {
    const requeues = new Map([['5', 2]]);
    const s: ScanState = { lastKey: '1', pending: ['5'], requeues };
    advanceScan(s, read(['2', '3', '4'], ['5']), { emitted: 3, requeue: ['5'], reread: false });
    expect(requeues).toEqual(new Map([['5', 2]]));
    expect(s.pending).toEqual(['5']);
  });
});
