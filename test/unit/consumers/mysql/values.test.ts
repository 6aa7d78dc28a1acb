// The mysql sink's fast value formatting (consumers/mysql/types.ts) against the contract's own
// formatting it replaces: a DATETIME literal is exactly formatTimestamptz's text without the zone,
// for every microsecond value MySQL's DATETIME can hold (years 1000 to 9999, before and after
// 1970, at whole seconds, midnights, the range's ends and the ends of the fast number path); lock conflicts are told apart (errors.ts).
import { describe, expect, it } from 'vitest';
import { lockConflictOf, classifyMysqlError } from '../../../../consumers/mysql/errors.ts';
import { datetime, datetimeText } from '../../../../consumers/mysql/types.ts';
import { formatTimestamptz } from '../../../../schemas/values.ts';

const MIN = -30610224000000000n; // 1000-01-01 00:00:00 UTC
const MAX = 253402300799999999n; // 9999-12-31 23:59:59.999999 UTC

describe('mysql DATETIME text', () => {
  it('is formatTimestamptz without the zone, across the whole DATETIME range', () => {
    let seed = 12345;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const span = MAX - MIN;
    const values = [MIN, MAX, 0n, -1n, 1n, -1_000_000n, 999_999n, -999_999n, 1_700_000_000_000_000n];
    const SAFE = BigInt(Number.MAX_SAFE_INTEGER); // the number path: years 1685 to 2255
    values.push(SAFE, -SAFE, SAFE + 1n, -SAFE - 1n, 951_782_400_000_000n /* 2000-02-29 */);
    for (let i = 0; i < 20_000; i++) {
      const us = MIN + (span * BigInt(Math.floor(rand() * 1e9))) / 1_000_000_000n;
      const near = -SAFE + (2n * SAFE * BigInt(Math.floor(rand() * 1e9))) / 1_000_000_000n;
      values.push(us, us - (us % 1_000_000n), near, near - (near % 86_400_000_000n)); // whole seconds, midnights
    }
    for (const us of values) expect([us, datetimeText(us)]).toEqual([us, formatTimestamptz(us).slice(0, 26)]);
    expect(datetime('c', MIN)).toBe('1000-01-01 00:00:00.000000');
    expect(datetime('c', MAX)).toBe('9999-12-31 23:59:59.999999');
    expect(() => datetime('c', MIN - 1n)).toThrow(/outside DATETIME's range/);
  });
});

describe('mysql lock conflicts', () => {
  it('1213 is a deadlock, 1205 a lock wait timeout; both stay transient for a single connection', () => {
    const e = (errno: number) => Object.assign(new Error('x'), { errno });
    expect([lockConflictOf(e(1213)), lockConflictOf(e(1205)), lockConflictOf(e(1062))]).toEqual([
      'deadlock',
      'lock-timeout',
      undefined,
    ]);
    expect([classifyMysqlError(e(1213)), classifyMysqlError(e(1205))]).toEqual(['transient', 'transient']);
    expect(lockConflictOf(undefined)).toBeUndefined();
  });
});
