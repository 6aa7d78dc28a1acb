// Slot protection: judgeSlot (may the producer stream this slot, given the position pgcdc stored?),
// judgeSlotWal (is the server about to invalidate it?) and the PositionKeeper (stores a position
// before it is acknowledged to the server, coalescing bursts).
import { describe, expect, it } from 'vitest';
import type { Lsn } from '../../../../schemas/lsn.ts';
import { judgeSlot, PositionKeeper, SlotPositionError } from '../../../../producers/postgres/position.ts';
import { judgeSlotWal, type SlotRow } from '../../../../producers/postgres/slots.ts';

const table = { schema: 'public', table: 'pgcdc_position' };
const facts = (
  found: { confirmedFlushLsn: Lsn; walStatus: string | null } | undefined,
  stored: Lsn | undefined,
) => judgeSlot({ slot: 's1', found, stored, positionTable: table });

describe('judgeSlot', () => {
  it.each([
    ['no slot, nothing stored: create it', undefined, undefined, { kind: 'create' }],
    [
      'slot behind the stored position (server crash): stream, re-read',
      100n,
      150n,
      { kind: 'stream', from: 100n, adopt: false },
    ],
    ['slot at the stored position', 150n, 150n, { kind: 'stream', from: 150n, adopt: false }],
    [
      'slot without a stored position (first start of this version): adopt it',
      150n,
      undefined,
      { kind: 'stream', from: 150n, adopt: true },
    ],
  ] as const)('%s', (_what, confirmed, stored, verdict) => {
    const found =
      confirmed === undefined ? undefined : { confirmedFlushLsn: confirmed, walStatus: 'reserved' };
    expect(facts(found, stored)).toEqual(verdict);
  });

  const refused = (v: ReturnType<typeof judgeSlot>) => {
    expect(v.kind).toBe('refuse');
    const err = (v as { error: SlotPositionError }).error;
    expect(err).toBeInstanceOf(SlotPositionError);
    expect(err.retriable).toBe(false);
    return err;
  };

  it('refuses a missing slot pgcdc had streamed: a new one would skip the gap', () => {
    const err = refused(facts(undefined, 0x1_0000_0010n));
    expect(err.message).toMatch(/slot s1 does not exist, but pgcdc had streamed it up to 1\/10/);
    expect(err.hint).toMatch(/DELETE FROM "public"."pgcdc_position" WHERE slot_name = 's1'/);
    expect(err.hint).toMatch(/pgcdc snapshot --restart/);
  });

  it('refuses a slot that starts after the stored position (dropped and re-created, or advanced)', () => {
    const err = refused(facts({ confirmedFlushLsn: 0x200n, walStatus: 'reserved' }, 0x100n));
    expect(err.message).toMatch(
      /slot s1 starts at 0\/200, after the position pgcdc last acknowledged \(0\/100\)/,
    );
    expect(err.hint).toMatch(/pgcdc slots drop s1 --yes/);
  });

  it('refuses an invalidated slot whatever the positions', () => {
    const err = refused(facts({ confirmedFlushLsn: 0x100n, walStatus: 'lost' }, 0x100n));
    expect(err.message).toMatch(/s1 was invalidated \(wal_status = lost\)/);
    expect(err.hint).toMatch(/pgcdc slots drop s1 --yes.*pgcdc snapshot --restart.*max_slot_wal_keep_size/);
  });
});

describe('judgeSlotWal', () => {
  const MiB = 2 ** 20;
  const slot = (walStatus: string, safe: number | null): SlotRow => ({
    name: 's1',
    plugin: 'pgoutput',
    slotType: 'logical',
    database: 'db',
    active: true,
    activePid: 1,
    restartLsn: '0/1',
    confirmedFlushLsn: '0/1',
    walStatus,
    retainedBytes: 0,
    flushLagBytes: 0,
    safeWalSizeBytes: safe,
  });

  it('ok with plenty left, or without a limit', () => {
    expect(judgeSlotWal(slot('reserved', 3 * MiB), 4 * MiB, 0.5)).toEqual({ level: 'ok' });
    expect(judgeSlotWal(slot('extended', null), null, 0.5)).toEqual({ level: 'ok' });
    expect(judgeSlotWal(undefined, 4 * MiB, 0.5)).toEqual({ level: 'ok' });
  });

  it('at risk below the warning share of max_slot_wal_keep_size, or unreserved', () => {
    const r = judgeSlotWal(slot('reserved', 1.5 * MiB), 4 * MiB, 0.5);
    expect(r).toMatchObject({ level: 'at-risk', safeWalSizeBytes: 1.5 * MiB });
    expect(r.level !== 'ok' && r.message).toMatch(
      /1\.5 MiB WAL left before max_slot_wal_keep_size \(4\.0 MiB\)/,
    );
    expect(judgeSlotWal(slot('unreserved', -100), 4 * MiB, 0.5)).toMatchObject({ level: 'at-risk' });
  });

  it('lost once invalidated, with the recovery', () => {
    const r = judgeSlotWal(slot('lost', null), 4 * MiB, 0.5);
    expect(r.level).toBe('lost');
    expect(r.level !== 'ok' && r.message).toMatch(/invalidated.*pgcdc slots drop s1 --yes/);
  });
});

describe('PositionKeeper', () => {
  it('hands a position on only after it is stored, never out of order, coalescing a burst', async () => {
    const log: string[] = [];
    const pending: (() => void)[] = [];
    const keeper = new PositionKeeper(
      10n,
      (lsn) =>
        new Promise<void>((resolve) => {
          log.push(`store ${lsn}`);
          pending.push(resolve);
        }),
      (lsn) => log.push(`ack ${lsn}`),
    );
    keeper.advance(20n);
    keeper.advance(30n); // while 20 is being stored
    keeper.advance(25n); // older: ignored
    keeper.advance(40n);
    expect(log).toEqual(['store 20']);
    pending.shift()!();
    await new Promise((r) => setImmediate(r));
    expect(log).toEqual(['store 20', 'ack 20', 'store 40']);
    pending.shift()!();
    await keeper.flush();
    expect(log).toEqual(['store 20', 'ack 20', 'store 40', 'ack 40']);
  });

  it('spaces writes by minIntervalMs, storing only the newest position of each interval', async () => {
    const stored: [Lsn, number][] = [];
    const t0 = Date.now();
    const keeper = new PositionKeeper(
      0n,
      (lsn) => {
        stored.push([lsn, Date.now() - t0]);
        return Promise.resolve();
      },
      () => undefined,
      80,
    );
    keeper.advance(1n); // stored at once
    await new Promise((r) => setImmediate(r));
    for (let lsn = 2n; lsn <= 6n; lsn++) keeper.advance(lsn); // one write, after the interval
    await keeper.flush();
    expect(stored.map(([l]) => l)).toEqual([1n, 6n]);
    expect(stored[1]![1] - stored[0]![1]).toBeGreaterThanOrEqual(70);
  });

  it('a failed store rejects `failure` and acknowledges nothing more', async () => {
    const acked: Lsn[] = [];
    const keeper = new PositionKeeper(
      1n,
      () => Promise.reject(new Error('db down')),
      (l) => acked.push(l),
    );
    keeper.advance(5n);
    await expect(keeper.failure).rejects.toThrow('db down');
    keeper.advance(6n);
    await keeper.flush();
    expect(acked).toEqual([]);
  });
});
