// Ports handed to another process lie outside the kernel's ephemeral range, so that no outgoing
// connection can take one between the check and the bind (the bench's metrics-port race).
import { describe, expect, it } from 'vitest';
import { ephemeralRange, freePort, reservedRanges } from '../../../dev/stack/ports.ts';

describe('reservedRanges', () => {
  it('is the room below and above the ephemeral range, from 20000', () => {
    expect(reservedRanges([32768, 60999])).toEqual([
      [20000, 32767],
      [61000, 65535],
    ]);
  });
  it('leaves out a side with no room', () => {
    expect(reservedRanges([1024, 65535])).toEqual([]);
    expect(reservedRanges([10000, 50000])).toEqual([[50001, 65535]]);
    expect(reservedRanges([40000, 65535])).toEqual([[20000, 39999]]);
  });
});

describe('freePort', () => {
  it('returns bindable ports outside the ephemeral range', async () => {
    const [lo, hi] = ephemeralRange();
    const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()));
    for (const p of ports) {
      expect(p >= lo && p <= hi).toBe(false);
      expect(p).toBeGreaterThanOrEqual(20000);
      expect(p).toBeLessThanOrEqual(65535);
    }
  });
});
