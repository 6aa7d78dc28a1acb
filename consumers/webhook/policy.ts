// Retry policy of webhook deliveries, as pure functions: which answers are success, worth another
// attempt or final; how long to wait (exponential backoff with jitter, or the receiver's
// Retry-After on 429/503).
import { backoffMs as sharedBackoffMs } from '../../pipeline/retry.ts';

export type Verdict =
  { kind: 'success' } | { kind: 'retry'; retryAfterMs: number | undefined } | { kind: 'permanent' };

/**
 * 408 Request Timeout, 409 Conflict and 429 Too Many Requests may succeed later; other 4xx won't.
 * Redirects are not followed (the signature covers the body, not a URL): 3xx is the configured URL
 * being wrong, an answer of a receiver that is up, so final, never a circuit-breaker failure.
 */
const RETRIABLE_4XX = new Set([408, 409, 429]);

export function classifyStatus(status: number, retryAfter: string | undefined, nowMs: number): Verdict {
  if (status >= 200 && status < 300) return { kind: 'success' };
  if (status >= 300 && status < 400) return { kind: 'permanent' };
  if (status >= 400 && status < 500 && !RETRIABLE_4XX.has(status)) return { kind: 'permanent' };
  const honour = status === 429 || status === 503;
  return { kind: 'retry', retryAfterMs: honour ? parseRetryAfter(retryAfter, nowMs) : undefined };
}

/** `Retry-After: <seconds>` or `Retry-After: <HTTP-date>` -> milliseconds from now (>= 0). */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  if (!/[a-z]/i.test(v)) return undefined;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
  /** 0..1: each delay is reduced by a random fraction up to this (spreads retries of many events). */
  jitter: number;
}

/** Delay after failed attempt number `attempt` (1-based): the one backoff policy (pipeline/retry.ts). */
export function backoffMs(
  attempt: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): number {
  return sharedBackoffMs(attempt, policy, random);
}

/** The wait before the next attempt: Retry-After (capped) when the receiver gave one, else backoff. */
export function nextDelayMs(
  attempt: number,
  verdict: { retryAfterMs: number | undefined },
  policy: BackoffPolicy & { retryAfterMaxMs: number },
  random: () => number = Math.random,
): number {
  if (verdict.retryAfterMs !== undefined) return Math.min(verdict.retryAfterMs, policy.retryAfterMaxMs);
  return backoffMs(attempt, policy, random);
}
