// The consumer's heap growth setting (cli/heap.ts): V8's own by default, a percent from the
// environment (PGCDC_HEAP_GROWING_PERCENT, opt-in) and a refused value.
import { describe, expect, it } from 'vitest';
import { CONSUMER_HEAP_GROWING_PERCENT, heapGrowingPercent } from '../../../cli/heap.ts';
import { ConfigError } from '../../../pipeline/errors.ts';

describe('heapGrowingPercent', () => {
  it("is V8's own (0) when unset or empty", () => {
    expect(CONSUMER_HEAP_GROWING_PERCENT).toBe(0);
    expect(heapGrowingPercent({})).toBe(CONSUMER_HEAP_GROWING_PERCENT);
    expect(heapGrowingPercent({ PGCDC_HEAP_GROWING_PERCENT: ' ' })).toBe(CONSUMER_HEAP_GROWING_PERCENT);
  });
  it('takes a whole number from the environment, 0 for V8’s own', () => {
    expect(heapGrowingPercent({ PGCDC_HEAP_GROWING_PERCENT: '100' })).toBe(100);
    expect(heapGrowingPercent({ PGCDC_HEAP_GROWING_PERCENT: '0' })).toBe(0);
  });
  it('refuses anything else with a ConfigError', () => {
    for (const v of ['-1', '1.5', 'lots', '1001']) {
      expect(() => heapGrowingPercent({ PGCDC_HEAP_GROWING_PERCENT: v })).toThrow(ConfigError);
    }
  });
});
