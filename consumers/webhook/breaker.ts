// Per-target circuit breaker: after `failureThreshold` consecutive failed requests the circuit opens
// and nothing is sent for `cooldownMs`; then one probe request is let through (half-open). Its
// success closes the circuit, its failure opens it again. Callers wait while it is open, so events
// keep their order and nothing is skipped or counted as an attempt.

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  failureThreshold: number;
  cooldownMs: number;
  now?: () => number;
  onChange?: (state: BreakerState) => void;
}

export class CircuitBreaker {
  private current: BreakerState = 'closed';
  private failures = 0;
  private openedAt = 0;
  private probing = false;
  private readonly now: () => number;

  constructor(private readonly opts: BreakerOptions) {
    this.now = opts.now ?? Date.now;
  }

  get state(): BreakerState {
    return this.current;
  }

  /**
   * Asks to send a request. `{ ok: true }` grants it (in half-open state: the single probe);
   * otherwise wait `waitMs` and ask again.
   */
  acquire(): { ok: true } | { ok: false; waitMs: number } {
    if (this.current === 'closed') return { ok: true };
    if (this.current === 'open') {
      const left = this.openedAt + this.opts.cooldownMs - this.now();
      if (left > 0) return { ok: false, waitMs: left };
      this.set('half-open');
    }
    if (this.probing) return { ok: false, waitMs: Math.min(100, this.opts.cooldownMs) };
    this.probing = true;
    return { ok: true };
  }

  /** The receiver answered (2xx, or a deliberate 4xx): it is up. */
  success(): void {
    this.failures = 0;
    this.probing = false;
    if (this.current !== 'closed') this.set('closed');
  }

  /** The request failed in a way that says the receiver is unwell (5xx, 429, timeout, refused). */
  failure(): void {
    this.failures++;
    const wasProbe = this.probing;
    this.probing = false;
    if (
      this.current === 'half-open' ||
      (this.current === 'closed' && this.failures >= this.opts.failureThreshold)
    ) {
      this.openedAt = this.now();
      this.set('open');
    } else if (this.current === 'open' && wasProbe) {
      this.openedAt = this.now();
    }
  }

  /** A granted request was not sent after all (e.g. shutdown): free the probe slot. */
  release(): void {
    this.probing = false;
  }

  private set(state: BreakerState): void {
    this.current = state;
    this.opts.onChange?.(state);
  }
}
