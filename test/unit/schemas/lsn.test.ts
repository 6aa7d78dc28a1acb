// producers/postgres/lsn.ts: WAL positions as PostgreSQL prints them (%X/%X) <-> bigint.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatLsn, parseLsn } from '../../../schemas/lsn.ts';

describe('parseLsn / formatLsn', () => {
  it.each<[string, bigint]>([
    ['0/0', 0n],
    ['0/1', 1n],
    ['0/16B3748', 0x16b3748n],
    ['16/B374D848', 0x16b374d848n],
    ['1/0', 2n ** 32n],
    ['0/FFFFFFFF', 2n ** 32n - 1n],
    ['FFFFFFFF/FFFFFFFF', 2n ** 64n - 1n],
  ])('%s <-> %s', (text, lsn) => {
    expect(parseLsn(text)).toBe(lsn);
    expect(formatLsn(lsn)).toBe(text);
  });

  it('reads lower case and zero-padded halves (pg-logical-replication pads to 8 digits)', () => {
    expect(parseLsn('16/b374d848')).toBe(0x16b374d848n);
    expect(parseLsn('00000000/016B3748')).toBe(0x16b3748n);
    expect(formatLsn(parseLsn('00000016/0000D848'))).toBe('16/D848');
  });

  it('formats like PostgreSQL: upper case, no padding', () => {
    expect(formatLsn(0xabcdef0123n)).toBe('AB/CDEF0123');
    expect(formatLsn(0x1_0000_000an)).toBe('1/A');
  });

  it.each([
    '',
    '0',
    '0/',
    '/0',
    '0//0',
    '1/2/3',
    'G/0',
    '0/0G',
    '123456789/0',
    '0/123456789',
    ' 0/0',
    '0/0 ',
    '-1/0',
    '0x1/0',
    '1.5/0',
    '0:0',
  ])('rejects %j, naming it', (text) => {
    expect(() => parseLsn(text)).toThrow(`invalid LSN "${text}"`);
  });

  it('rejects a negative position', () => {
    expect(() => formatLsn(-1n)).toThrow(/invalid LSN -1/);
  });

  it('round-trips every 64-bit position (property)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), (lsn) => {
        const text = formatLsn(lsn);
        expect(text).toMatch(/^[0-9A-F]{1,8}\/[0-9A-F]{1,8}$/);
        expect(parseLsn(text)).toBe(lsn);
        expect(parseLsn(text.toLowerCase())).toBe(lsn);
      }),
      { numRuns: 2000 },
    );
  });

  it('orders like the WAL: numeric order of parsed positions (property)', () => {
    const half = fc.bigInt({ min: 0n, max: 2n ** 32n - 1n });
    fc.assert(
      fc.property(half, half, half, half, (hi1, lo1, hi2, lo2) => {
        const a = parseLsn(`${hi1.toString(16)}/${lo1.toString(16)}`);
        const b = parseLsn(`${hi2.toString(16)}/${lo2.toString(16)}`);
        const expected = hi1 !== hi2 ? hi1 < hi2 : lo1 < lo2;
        expect(a < b).toBe(expected);
      }),
    );
  });
});
