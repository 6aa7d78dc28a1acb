// The one duration parser (pipeline/config/fields.ts) serves reconcile.every and replay --to -15m:
// units ms s m h d in any case, fractions, compound forms; malformed text (a sign, a space, a
// missing unit or number) is refused; durationSeconds also takes a number and refuses zero.
import { describe, expect, it } from 'vitest';
import { durationSeconds, parseDurationMs } from '../../../../pipeline/config/fields.ts';
import { ReconcileScheduleSchema } from '../../../../pipeline/config/reconcile.ts';
import { parseReplayTo } from '../../../../ops/replay.ts';

describe('parseDurationMs', () => {
  it.each([
    ['90s', 90_000],
    ['15m', 900_000],
    ['6h', 21_600_000],
    ['1d', 86_400_000],
    ['1.5h', 5_400_000],
    ['1h30m', 5_400_000],
    ['250ms', 250],
    ['1m5s', 65_000],
    ['2H', 7_200_000],
    ['0s', 0],
  ])('%s is %d ms', (text, ms) => {
    expect(parseDurationMs(text)).toBe(ms);
  });

  it.each(['', '15', 'm', '-15m', '+15m', '15 m', ' 15m', '15x', '1.m', 'h1'])('refuses "%s"', (text) => {
    expect(parseDurationMs(text)).toBeUndefined();
  });
});

describe('durationSeconds and its users', () => {
  it('takes text (trimmed) or seconds, and refuses zero or malformed', () => {
    expect(durationSeconds(' 6h ')).toBe(21_600);
    expect(durationSeconds(45)).toBe(45);
    expect(durationSeconds('250ms')).toBe(0.25);
    for (const v of [0, -1, '0s', 'soon', '']) expect(durationSeconds(v)).toBeUndefined();
  });

  it('reconcile.every and replay --to read the same forms', () => {
    expect(ReconcileScheduleSchema.parse({ every: '1h30m' })?.every).toBe(5400);
    expect(ReconcileScheduleSchema.safeParse({ every: '0s' }).success).toBe(false);
    const now = Date.parse('2026-11-29T12:00:00Z');
    expect(parseReplayTo('-1h30m', now)).toEqual({ kind: 'time', ms: now - 5_400_000 });
    expect(parseReplayTo('-250ms', now)).toEqual({ kind: 'time', ms: now - 250 });
  });
});
