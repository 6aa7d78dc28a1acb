// consumers/webhook/policy.ts: which answers are retried, Retry-After parsing, backoff growth.
import { describe, expect, it } from 'vitest';
import {
  backoffMs,
  classifyStatus,
  nextDelayMs,
  parseRetryAfter,
} from '../../../../consumers/webhook/policy.ts';

const NOW = Date.parse('2025-01-01T00:00:00Z');

describe('classifyStatus', () => {
  it.each([
    [200, 'success'],
    [201, 'success'],
    [204, 'success'],
    [299, 'success'],
    [301, 'permanent'],
    [302, 'permanent'],
    [307, 'permanent'],
    [308, 'permanent'],
    [400, 'permanent'],
    [401, 'permanent'],
    [404, 'permanent'],
    [408, 'retry'],
    [409, 'retry'],
    [410, 'permanent'],
    [413, 'permanent'],
    [422, 'permanent'],
    [429, 'retry'],
    [500, 'retry'],
    [502, 'retry'],
    [503, 'retry'],
    [504, 'retry'],
  ])('%i -> %s', (status, kind) => {
    expect(classifyStatus(status, undefined, NOW).kind).toBe(kind);
  });

  it('honours Retry-After on 429 and 503 only', () => {
    expect(classifyStatus(429, '2', NOW)).toEqual({ kind: 'retry', retryAfterMs: 2000 });
    expect(classifyStatus(503, '0', NOW)).toEqual({ kind: 'retry', retryAfterMs: 0 });
    expect(classifyStatus(500, '2', NOW)).toEqual({ kind: 'retry', retryAfterMs: undefined });
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates', () => {
    expect(parseRetryAfter('120', NOW)).toBe(120_000);
    expect(parseRetryAfter(' 1 ', NOW)).toBe(1000);
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:30 GMT', NOW)).toBe(30_000);
    expect(parseRetryAfter('Tue, 31 Dec 2024 23:00:00 GMT', NOW)).toBe(0);
  });
  it('ignores what it cannot read', () => {
    expect(parseRetryAfter(undefined, NOW)).toBeUndefined();
    expect(parseRetryAfter('-5', NOW)).toBeUndefined();
    expect(parseRetryAfter('1.5', NOW)).toBeUndefined();
    expect(parseRetryAfter('soon', NOW)).toBeUndefined();
  });
});

describe('backoff', () => {
  const policy = { initialMs: 100, maxMs: 1000, jitter: 0.5 };
  it('doubles from the initial delay up to the cap', () => {
    const none = () => 0;
    expect([1, 2, 3, 4, 5, 6, 60, 5000].map((a) => backoffMs(a, policy, none))).toEqual([
      100, 200, 400, 800, 1000, 1000, 1000, 1000,
    ]);
  });
  it('jitter takes off at most its fraction', () => {
    expect(backoffMs(3, policy, () => 1)).toBe(200);
    expect(backoffMs(3, policy, () => 0.5)).toBe(300);
    expect(backoffMs(3, { ...policy, jitter: 0 }, () => 1)).toBe(400);
  });
  it('prefers Retry-After, capped', () => {
    const p = { ...policy, retryAfterMaxMs: 5000 };
    expect(nextDelayMs(1, { retryAfterMs: 3000 }, p, () => 0)).toBe(3000);
    expect(nextDelayMs(1, { retryAfterMs: 60_000 }, p, () => 0)).toBe(5000);
    expect(nextDelayMs(2, { retryAfterMs: undefined }, p, () => 0)).toBe(200);
  });
});
