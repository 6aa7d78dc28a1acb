// producers/snapshot/unread.ts: which keys the running snapshot may not have fed yet. Every doubt
// answers "may be unread" (an extra read of the row, never an update without its values).
import { describe, expect, it } from 'vitest';
import { mayBeUnread, type SnapshotProgress } from '../../../../producers/snapshot/unread.ts';
import { loadContract, type TableContract } from '../../../../schemas/contract.ts';

const contract = loadContract();
const key = (id: bigint) => ({ id });
const running = (lastKey: string | null, pending: string[] = []): SnapshotProgress => ({
  phase: 'running',
  lastKey,
  pending: new Set(pending),
});

describe('mayBeUnread', () => {
  it('before the feed looked at its checkpoint: every key; with no snapshot running: none', () => {
    expect(mayBeUnread({ phase: 'unknown' }, contract, key(1n))).toBe(true);
    expect(mayBeUnread({ phase: 'idle' }, contract, key(1n))).toBe(false);
  });

  it('while running: keys beyond the last fed key, and keys to be read again', () => {
    expect(mayBeUnread(running(null), contract, key(1n))).toBe(true);
    const p = running('100', ['7']);
    expect(mayBeUnread(p, contract, key(101n))).toBe(true);
    expect(mayBeUnread(p, contract, key(1000n))).toBe(true); // numeric, not text, order
    expect(mayBeUnread(p, contract, key(100n))).toBe(false);
    expect(mayBeUnread(p, contract, key(20n))).toBe(false);
    expect(mayBeUnread(p, contract, key(7n))).toBe(true);
  });

  it('a key type whose order only the database knows: every key while running', () => {
    const textKey: TableContract = {
      ...contract,
      columns: contract.columns.map((c) => (c.name === 'id' ? { ...c, pgType: 'text', sqlType: 'text' } : c)),
    };
    expect(mayBeUnread(running('m'), textKey, { id: 'a' })).toBe(true);
  });

  it('every integer kind is ordered numerically', () => {
    for (const pgType of ['smallint', 'integer'] as const) {
      const intKey: TableContract = {
        ...contract,
        columns: contract.columns.map((c) => (c.name === 'id' ? { ...c, pgType, sqlType: pgType } : c)),
      };
      expect(mayBeUnread(running('9'), intKey, { id: 10n })).toBe(true);
      expect(mayBeUnread(running('10'), intKey, { id: 9n })).toBe(false);
    }
  });
});
