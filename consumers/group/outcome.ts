// What the consumer group loop tells the world about each chunk and each failed attempt: the
// target's status (status.ts), the dead-letter and lag metrics, the audit lines (one debug line per
// chunk, a warn line per failed attempt, an info summary per interval) and the error line when
// events were dead-lettered. Errors are written with `publicError` (no row values).
import { PgcdcError } from '../../pipeline/errors.ts';
import { audit, AuditSummary } from '../../pipeline/observability/audit.ts';
import type { Logger } from '../../pipeline/observability/logger.ts';
import type { Metrics } from '../../pipeline/observability/metrics.ts';
import type { DeadLetterRecord } from '../dlq.ts';
import { publicError } from './public-error.ts';
import type { FailedAttempt } from './retrying.ts';
import type { TargetStatusBook } from './status.ts';
import type { DecodedEvent } from '../sink.ts';

export interface ChunkOutcome {
  partition: number;
  highWatermark: bigint;
  fromOffset: bigint;
  /** the next offset to consume in this partition */
  next: bigint;
  applied: DecodedEvent[];
  dead: DeadLetterRecord[];
  dlqTopic: string;
  /** the chunk stopped before an event that waits for another partition */
  waiting: boolean;
  /** ... for a lock at the target */
  lockWait?: boolean;
  durationMs: number;
}

export interface OutcomeReporter {
  failed(f: FailedAttempt): void;
  chunk(o: ChunkOutcome): void;
  /** starts the periodic summary */
  start(intervalMs: number): void;
  /** stops it and writes the last one */
  stop(): void;
}

export function createOutcomeReporter(opts: {
  target: string;
  log: Logger;
  metrics: Metrics;
  book: TargetStatusBook;
}): OutcomeReporter {
  const { target, log, metrics, book } = opts;
  const summary = new AuditSummary(log, { kind: 'apply', target });
  let timer: NodeJS.Timeout | undefined;
  return {
    failed({ what, err, delayMs, durationMs }) {
      book.failed(err);
      const error = publicError(err);
      summary.failed(error);
      audit(
        log,
        'warn',
        {
          kind: 'apply',
          target,
          status: 'error',
          counts: { failed: 1 },
          durationMs,
          error,
          step: what,
          retryInMs: delayMs,
        },
        `${what} failed; retrying`,
      );
    },
    chunk(o) {
      const { dead, applied } = o;
      for (const d of dead) metrics.deadLettered.inc({ target, reason: d.reason });
      const last = applied[applied.length - 1];
      const first = dead[0];
      const deadLetterError = first
        ? publicError(
            new PgcdcError(
              `${dead.length} event(s) dead-lettered to ${o.dlqTopic}: ${first.reason}: ${first.error}`,
              { cause: first.cause },
            ),
          )
        : undefined;
      book.chunkDone({
        partition: o.partition,
        applied: applied.length,
        deadLettered: dead.length,
        last: last && { offset: last.offset, commitUs: last.event.source.ts_us },
        deadLetterError,
        waiting: o.waiting,
        ...(o.lockWait && { lockWait: true }),
      });
      metrics.targetLag.set(
        { target, partition: String(o.partition) },
        Math.max(0, Number(o.highWatermark - o.next)),
      );
      summary.add({ applied: applied.length, deadLettered: dead.length }, o.durationMs);
      audit(
        log,
        'debug',
        {
          kind: 'apply',
          target,
          status: dead.length > 0 ? 'partial' : 'ok',
          counts: { applied: applied.length, deadLettered: dead.length },
          durationMs: Math.round(o.durationMs * 10) / 10,
          partition: o.partition,
          fromOffset: o.fromOffset.toString(),
          toOffset: (o.next - 1n).toString(),
        },
        'applied chunk',
      );
      if (first) {
        log.error(
          {
            count: dead.length,
            topic: o.dlqTopic,
            reason: first.reason,
            error: publicError(new PgcdcError(first.error, { cause: first.cause })),
          },
          'events dead-lettered',
        );
      }
    },
    start(intervalMs) {
      timer = setInterval(() => summary.flush(), intervalMs);
      timer.unref();
    },
    stop() {
      clearInterval(timer);
      summary.flush();
    },
  };
}
