import { describe, expect, it } from 'vitest';
import type { SlotHealth } from '../../../producers/postgres/slot-monitor.ts';
import { StallDetector } from '../../../producers/postgres/slots.ts';
import { compareColumns, normalizeType } from '../../../ops/check/columns.ts';
import { judgeReadiness } from '../../../pipeline/supervision/readiness.ts';
import {
  decodeStatus,
  encodeStatus,
  foldStatus,
  type TargetStatusRecord,
} from '../../../pipeline/supervision/status-store.ts';
import { lastStatusOf } from '../../../pipeline/supervision/supervise.ts';
import { loadContract } from '../../../schemas/contract.ts';

const record = (applied: number): TargetStatusRecord => ({
  v: 1,
  kind: 'target',
  target: 'peer',
  group: 'pgcdc.peer',
  type: 'postgres',
  state: 'OK',
  lastStatus: 'OK',
  lastError: null,
  lastErrorAt: null,
  failingSince: null,
  lastAppliedAt: null,
  lastAppliedCommitUs: '1795822391096646',
  lastAppliedOffset: { partition: 2, offset: '17' },
  applied,
  failed: 0,
  deadLettered: 0,
  countingSince: '2026-11-27T00:00:00.000Z',
  startedAt: '2026-11-27T00:00:00.000Z',
  updatedAt: '2026-11-27T00:00:01.000Z',
  host: 'h',
  pid: 1,
});

describe('status records', () => {
  it('round-trip, and the latest record per key wins; a tombstone deletes', () => {
    expect(decodeStatus(encodeStatus(record(3)))).toEqual(record(3));
    const k = Buffer.from('target:peer');
    const folded = foldStatus([
      { key: k, value: encodeStatus(record(1)) },
      { key: Buffer.from('target:other'), value: encodeStatus(record(9)) },
      { key: k, value: encodeStatus(record(2)) },
      { key: Buffer.from('target:other'), value: null },
      { key: Buffer.from('x'), value: Buffer.from('not json') },
    ]);
    expect([...folded.keys()]).toEqual(['target:peer']);
    expect(folded.get('target:peer')).toMatchObject({ applied: 2 });
  });

  it('unknown fields of a newer writer are kept; an unknown version is ignored', () => {
    const newer = { ...record(1), extra: 'x' };
    expect(decodeStatus(Buffer.from(JSON.stringify(newer)))).toMatchObject({ extra: 'x' });
    expect(decodeStatus(Buffer.from(JSON.stringify({ ...record(1), v: 2 })))).toBeUndefined();
  });

  it('last status: OK, ERR, or the HTTP status of a webhook failure', () => {
    expect(lastStatusOf({ state: 'OK', lastError: 'old' })).toBe('OK');
    expect(lastStatusOf({ state: 'ERR', lastError: 'check constraint' })).toBe('ERR');
    expect(lastStatusOf({ state: 'ERR', lastError: 'target hook: x answered HTTP 503: busy' })).toBe(
      'HTTP 503',
    );
  });
});

describe('StallDetector', () => {
  it('stalled only while the WAL moves past a confirmed LSN that does not', () => {
    const d = new StallDetector();
    expect(d.observe(0, 100n, 100n)).toBe(0);
    expect(d.observe(1000, 100n, 100n)).toBe(0); // idle server: not a stall
    expect(d.observe(2000, 150n, 100n)).toBe(0); // WAL moved: clock starts
    expect(d.observe(7000, 200n, 100n)).toBe(5000);
    expect(d.observe(8000, 210n, 210n)).toBe(0); // confirmed moved: fine again
    expect(d.observe(9000, 210n, undefined)).toBe(0); // slot gone: not this detector's business
  });
});

describe('readiness', () => {
  const base = { nowMs: 100_000, targetStuckMs: 30_000, slotStallMs: 60_000 };
  const slot = {
    connected: true,
    error: undefined,
    sampledAt: undefined,
    slot: undefined,
    stalledForMs: 0,
    stalled: false,
  } as SlotHealth; // later fields (e.g. WAL risk) stay unset: not what these cases are about
  it('ready when streaming and targets apply', () => {
    expect(
      judgeReadiness({
        ...base,
        producer: { running: true, lastError: undefined, slot },
        targets: [{ target: 'peer', state: 'ERR', failingSince: undefined, lastError: 'dead-lettered 1' }],
      }),
    ).toEqual({ ok: true, problems: [] });
  });
  it('not ready: stream down, slot stalled or unreadable, target failing too long', () => {
    const r = judgeReadiness({
      ...base,
      producer: {
        running: false,
        lastError: 'boom',
        slot: {
          ...slot,
          connected: false,
          error: 'refused',
          stalled: true,
          stalledForMs: 61_000,
        },
      },
      targets: [
        { target: 'peer', state: 'ERR', failingSince: new Date(60_000), lastError: 'db down' },
        { target: 'young', state: 'ERR', failingSince: new Date(90_000), lastError: 'db down' },
      ],
    });
    expect(r.ok).toBe(false);
    expect(r.problems.join('\n')).toMatch(/not running \(boom\)/);
    expect(r.problems.join('\n')).toMatch(/cannot read the slot/);
    expect(r.problems.join('\n')).toMatch(/stalled/);
    expect(r.problems.join('\n')).toMatch(/target peer: failing for 40 s: db down/);
    expect(r.problems.join('\n')).not.toMatch(/young/);
  });
});

describe('compareColumns', () => {
  const contract = loadContract().columns;
  const asPg = contract.map((c) => ({
    name: c.name,
    type: normalizeType(c.sqlType),
    notNull: !c.nullable,
    hasDefault: false,
  }));
  it('the contract matches itself as PostgreSQL reports it', () => {
    const m = compareColumns(asPg, contract);
    expect(m).toEqual({ missing: [], wrongType: [], stricter: [], extra: [] });
  });
  it('names missing, retyped and stricter columns', () => {
    const cols = asPg
      .filter((c) => c.name !== 'bio')
      .map((c) =>
        c.name === 'balance'
          ? { ...c, type: 'numeric(10,2)' }
          : c.name === 'city'
            ? { ...c, notNull: true }
            : c,
      );
    const m = compareColumns(
      [...cols, { name: 'x', type: 'text', notNull: true, hasDefault: false }],
      contract,
    );
    expect(m.missing.map((c) => c.name)).toEqual(['bio']);
    expect(m.wrongType).toEqual([{ name: 'balance', actual: 'numeric(10,2)', expected: 'numeric(12,2)' }]);
    expect(m.stricter).toEqual(['city']);
    expect(m.extra.map((c) => c.name)).toEqual(['x']);
  });
});
