// The last reconcile of a target as `pgcdc status` shows it: the record a run writes (verdict and
// counts from the report, or the error), read back through the status topic's codec and fold, and
// the status line of it; an older pgcdc's fold skips the new record kind instead of failing.
import { describe, expect, it } from 'vitest';
import { reconcileRecord } from '../../../../ops/reconcile/record.ts';
import type { ReconcileReport, TableReport } from '../../../../ops/reconcile/index.ts';
import { reconcileLine, reconcileView } from '../../../../ops/status.ts';
import { encodeStatus, foldStatus, reconcileKey } from '../../../../pipeline/supervision/status-store.ts';

const table = (over: Partial<TableReport>): TableReport => ({
  table: 'public.users',
  at: 'public.users',
  compared: 100,
  missing: 0,
  extra: { owned: 0, foreign: 0 },
  differing: 0,
  unsettled: 0,
  unmappable: 0,
  samples: { missing: [], extra: [], differing: [], unsettled: [] },
  differingColumns: {},
  chunks: 1,
  chunksRead: 0,
  seconds: 1,
  ...over,
});

const report = (tables: TableReport[], drift: boolean): ReconcileReport => ({
  target: 'peer',
  startedAt: '2026-11-29T12:00:00.000Z',
  seconds: 2,
  tables,
  drift,
  undecided: false,
});

const fold = (rec: ReturnType<typeof reconcileRecord>) =>
  foldStatus([{ key: Buffer.from(reconcileKey('peer')), value: encodeStatus(rec) }]);

describe('the last reconcile in pgcdc status', () => {
  const start = Date.parse('2026-11-29T12:00:00Z');
  it('records verdict and counts of a run, and shows them', () => {
    const r = report(
      [
        table({ missing: 2, extra: { owned: 1, foreign: 3 }, repaired: { fed: 2, removed: 1 } }),
        table({ differing: 1 }),
      ],
      true,
    );
    const rec = reconcileRecord(
      { target: 'peer', by: 'schedule', mode: 'repair', startedMs: start, report: r },
      new Date(start),
      start + 2500,
    );
    const v = reconcileView(fold(rec), 'peer');
    expect(v).toEqual({
      finishedAt: '2026-11-29T12:00:02.500Z',
      seconds: 2.5,
      by: 'schedule',
      mode: 'repair',
      verdict: 'drift',
      counts: {
        compared: 200,
        missing: 2,
        extra: 1,
        foreign: 3,
        differing: 1,
        undecided: 0,
        fed: 2,
        removed: 1,
      },
      error: null,
    });
    expect(reconcileLine(v!, (iso) => iso)).toBe(
      'last reconcile drift (repair, schedule, 2.5 s) ended 2026-11-29T12:00:02.500Z: 200 compared, 2 missing, 1 extra, 1 differing, 0 undecided; fed 2, removed 1',
    );
  });

  it('records a failed run with its error, and none when nothing was recorded', () => {
    const rec = reconcileRecord(
      { target: 'peer', by: 'cli', mode: 'report', startedMs: start, error: new Error('target unreachable') },
      new Date(start),
      start + 1000,
    );
    const v = reconcileView(fold(rec), 'peer')!;
    expect(v.verdict).toBe('error');
    expect(reconcileLine(v, (iso) => iso)).toMatch(
      /^last reconcile error \(report, pgcdc reconcile, 1\.0 s\) ended .*: target unreachable$/,
    );
    expect(reconcileView(fold(rec), 'other')).toBeNull();
    const ok = reconcileRecord(
      { target: 'peer', by: 'cli', mode: 'report', startedMs: start, report: report([table({})], false) },
      new Date(start),
      start,
    );
    expect(reconcileView(fold(ok), 'peer')?.verdict).toBe('ok');
  });
});
