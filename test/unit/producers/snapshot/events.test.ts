// producers/snapshot/events.ts: a chunk row (PostgreSQL text output per column) becomes the same
// `after` the assembler builds from pgoutput for that row, as an op=r event at the high watermark.
import { describe, expect, it } from 'vitest';
import { TransactionAssembler } from '../../../../producers/postgres/assembler.ts';
import {
  decodeSnapshotRow,
  keyTextOf,
  keyParts,
  snapshotEvent,
  type RawRow,
} from '../../../../producers/snapshot/events.ts';
import { assertValid, avroType } from '../../../../schemas/avro.ts';
import { loadContract } from '../../../../schemas/contract.ts';
import { begin, commit, insert, usersRelation, usersRow, type RawTuple } from '../../support/pgoutput.ts';

const contract = loadContract();
const ctx = { contract, db: 'src', name: 'pgcdc', version: '0.1.0' };

const asRawRow = (t: RawTuple): RawRow => contract.columns.map((c) => t[c.name] ?? null);

describe('snapshot events', () => {
  it('decode a SELECT row exactly as the assembler decodes the same row from pgoutput', () => {
    const rel = usersRelation();
    const tuples = [
      usersRow(42),
      usersRow('9223372036854775807', {
        created_at: 'infinity',
        last_login_at: '0044-03-15 12:00:00+00 BC',
        balance: 'NaN',
        tags: '{}',
        bio: null,
        preferences: null,
      }),
    ];
    const asm = new TransactionAssembler({ contract, db: 'src', name: 'pgcdc', version: '0.1.0' });
    asm.push(rel, '0/1');
    asm.push(begin(7, '0/100', 0n), '0/10');
    const live = tuples.flatMap((t) => asm.push(insert(rel, t), '0/20'));
    asm.push(commit('0/100', '0/130'), '0/100');
    tuples.forEach((t, i) => {
      const snap = decodeSnapshotRow(contract, asRawRow(t));
      const ev = live[i]!;
      if (ev.kind !== 'event') throw new Error('expected an event');
      expect(snap.after).toEqual(ev.event.after);
      expect(snap.key).toEqual(ev.key);
      expect(snap.keyText).toBe(String(ev.key.id));
    });
  });

  it('an op=r event at the high watermark, with a deterministic id per (snapshot, row), valid Avro', () => {
    const row = decodeSnapshotRow(contract, asRawRow(usersRow(42)));
    const e = snapshotEvent(ctx, 'mwzm1', row, {
      lsn: 0x5000n,
      commitLsn: 0x4fffn,
      seq: 3n,
      readAtUs: 17n,
      nowMs: 18n,
    });
    expect(e).toMatchObject({
      op: 'r',
      before: null,
      unchanged: [],
      event_id: 'snap:mwzm1:42',
      ts_ms: 18n,
      source: {
        lsn: 0x5000n,
        commit_lsn: 0x4fffn,
        seq: 3n,
        tx_id: null,
        ts_us: 17n,
        snapshot: true,
        db: 'src',
      },
    });
    expect(e.after).toEqual(row.after);
    assertValid(avroType(contract.valueSchema), e);
  });

  it('a single-column key is its value; a composite key is a JSON array of its values (docs/tables.md)', () => {
    expect(keyTextOf(contract, { id: 5n })).toBe('5');
    expect(keyParts(contract, '5')).toEqual(['5']);
    const composite = { ...contract, keyColumns: ['user_id', 'group_id'] };
    const text = keyTextOf(composite, { user_id: 5n, group_id: 7n });
    expect(text).toBe('["5","7"]');
    expect(keyParts(composite, text)).toEqual(['5', '7']);
    expect(keyParts(composite, '0')).toEqual([null, null]);
    expect(() => keyTextOf(composite, { user_id: 5n })).toThrow(/group_id/);
  });
});
