// consumers/webhook/breaker.ts: the circuit breaker's state machine, on a fake clock.
import { describe, expect, it } from 'vitest';
import { CircuitBreaker, type BreakerState } from '../../../../consumers/webhook/breaker.ts';

function setup(threshold = 3, cooldownMs = 1000) {
  let t = 0;
  const changes: BreakerState[] = [];
  const b = new CircuitBreaker({
    failureThreshold: threshold,
    cooldownMs,
    now: () => t,
    onChange: (s) => changes.push(s),
  });
  return { b, changes, advance: (ms: number) => (t += ms) };
}

describe('CircuitBreaker', () => {
  it('stays closed below the threshold and a success resets the count', () => {
    const { b } = setup();
    b.failure();
    b.failure();
    b.success();
    b.failure();
    b.failure();
    expect(b.state).toBe('closed');
    expect(b.acquire()).toEqual({ ok: true });
  });

  it('opens after N consecutive failures and refuses until the cool-down is over', () => {
    const { b, changes, advance } = setup();
    b.failure();
    b.failure();
    b.failure();
    expect(b.state).toBe('open');
    expect(b.acquire()).toEqual({ ok: false, waitMs: 1000 });
    advance(400);
    expect(b.acquire()).toEqual({ ok: false, waitMs: 600 });
    expect(changes).toEqual(['open']);
  });

  it('lets exactly one probe through when half-open; its success closes', () => {
    const { b, changes, advance } = setup();
    for (let i = 0; i < 3; i++) b.failure();
    advance(1000);
    expect(b.acquire()).toEqual({ ok: true });
    expect(b.state).toBe('half-open');
    expect(b.acquire().ok).toBe(false);
    b.success();
    expect(b.state).toBe('closed');
    expect(b.acquire().ok).toBe(true);
    expect(b.acquire().ok).toBe(true);
    expect(changes).toEqual(['open', 'half-open', 'closed']);
  });

  it('a failed probe opens again for a full cool-down', () => {
    const { b, advance } = setup();
    for (let i = 0; i < 3; i++) b.failure();
    advance(1500);
    expect(b.acquire().ok).toBe(true);
    b.failure();
    expect(b.state).toBe('open');
    expect(b.acquire()).toEqual({ ok: false, waitMs: 1000 });
  });

  it('release() frees the probe slot without changing state', () => {
    const { b, advance } = setup();
    for (let i = 0; i < 3; i++) b.failure();
    advance(1000);
    expect(b.acquire().ok).toBe(true);
    b.release();
    expect(b.state).toBe('half-open');
    expect(b.acquire().ok).toBe(true);
  });

  it('a late success of a request sent before opening closes the circuit', () => {
    const { b } = setup(1);
    b.failure();
    expect(b.state).toBe('open');
    b.success();
    expect(b.state).toBe('closed');
  });
});
