// Audit log: one structured line per sync action (a snapshot chunk, a streamed batch, an applied
// chunk), so an operator can answer "what did pgcdc do, to which target, how long did it take, what
// failed" with grep/jq. Lines carry `audit: true` and a fixed shape; they never carry row values or
// connection URLs (use redactUrl when a URL must appear).
import type { Logger } from './logger.ts';

export type AuditKind = 'snapshot' | 'stream' | 'apply' | 'replay' | 'reconcile';
export type AuditStatus = 'ok' | 'partial' | 'error';

export interface AuditEntry {
  kind: AuditKind;
  /** target name (apply, replay) */
  target?: string;
  status: AuditStatus;
  counts: Record<string, number>;
  durationMs: number;
  error?: string;
  /** anything else worth keeping: partition/offsets, LSN, interval */
  [extra: string]: unknown;
}

export type AuditLevel = 'debug' | 'info' | 'warn' | 'error';

export function audit(logger: Logger, level: AuditLevel, entry: AuditEntry, msg: string): void {
  if (!logger.isLevelEnabled(level)) return;
  // a child logger may already carry the target: do not write the key twice
  const { target, ...rest } = entry;
  const bound = (logger.bindings() as { target?: unknown }).target;
  logger[level](
    { audit: true, ...(target === undefined || bound === target ? {} : { target }), ...rest },
    msg,
  );
}

/**
 * Accumulates counts between summaries and emits one info line per interval (nothing when idle).
 * `add` is cheap; `flush` is called by the owner's timer and on stop.
 */
export class AuditSummary {
  private counts: Record<string, number> = {};
  private errors = 0;
  private lastError: string | undefined;
  private busyMs = 0;
  private since = Date.now();

  constructor(
    private readonly logger: Logger,
    private readonly base: { kind: AuditKind; target?: string; [extra: string]: unknown },
    private readonly now: () => number = Date.now,
  ) {
    this.since = now();
  }

  add(counts: Record<string, number>, durationMs = 0): void {
    for (const [k, v] of Object.entries(counts)) this.counts[k] = (this.counts[k] ?? 0) + v;
    this.busyMs += durationMs;
  }

  failed(error: string): void {
    this.errors++;
    this.lastError = error;
  }

  /** Emits the summary of what happened since the last one, if anything did. */
  flush(extra: Record<string, unknown> = {}): void {
    const now = this.now();
    const any = Object.values(this.counts).some((v) => v > 0) || this.errors > 0;
    if (any) {
      const entry: AuditEntry = {
        ...this.base,
        status: this.errors === 0 ? 'ok' : 'partial',
        counts: { ...this.counts, ...(this.errors ? { errors: this.errors } : {}) },
        durationMs: Math.round(this.busyMs),
        intervalMs: now - this.since,
        ...(this.lastError ? { error: this.lastError } : {}),
        ...extra,
      };
      audit(this.logger, 'info', entry, `${this.base.kind} summary`);
    }
    this.counts = {};
    this.errors = 0;
    this.lastError = undefined;
    this.busyMs = 0;
    this.since = now;
  }
}
