// Publishes one component's status record to the status store: at once when its state changes,
// at most every `intervalMs` while other fields change, and every `heartbeatMs` when idle (so
// `pgcdc status` can tell a silent process from a dead one). Publishing never blocks or fails the
// pipeline: an unreachable Kafka costs a warning, and the next tick tries again.
import type { Logger } from '../observability/logger.ts';
import type { StatusRecord, StatusStore } from './status-store.ts';

export interface StatusReporterOptions {
  store: StatusStore;
  key: string;
  /** the current record; updatedAt is filled in here */
  snapshot: () => StatusRecord;
  /** publish at once when this part of the record changes (state, last error) */
  urgent: (r: StatusRecord) => string;
  intervalMs: number;
  heartbeatMs?: number;
  logger: Logger;
  now?: () => number;
}

export interface StatusReporter {
  /** publishes the current record now (used on stop, after the last batch) */
  flush(): Promise<void>;
  stop(): Promise<void>;
}

const withoutTime = (r: StatusRecord) => JSON.stringify({ ...r, updatedAt: '' });

export function startStatusReporter(opts: StatusReporterOptions): StatusReporter {
  const now = opts.now ?? Date.now;
  const heartbeatMs = opts.heartbeatMs ?? 30_000;
  let lastBody: string | undefined;
  let lastUrgent: string | undefined;
  let lastWriteAt = 0;
  let writing: Promise<void> | undefined;
  let warnedAt = 0;

  const publish = (record: StatusRecord): Promise<void> => {
    const body = withoutTime(record);
    const urgent = opts.urgent(record);
    const t = now();
    const p = opts.store
      .write(opts.key, { ...record, updatedAt: new Date(t).toISOString() })
      .then(() => {
        lastBody = body;
        lastUrgent = urgent;
        lastWriteAt = t;
      })
      .catch((err: unknown) => {
        if (t - warnedAt > 60_000) {
          warnedAt = t;
          opts.logger.warn(
            { err: err instanceof Error ? err.message : String(err), topic: opts.store.topic },
            'cannot publish status; will retry',
          );
        }
      })
      .finally(() => {
        writing = undefined;
      });
    writing = p;
    return p;
  };

  const tick = () => {
    if (writing) return;
    const record = opts.snapshot();
    const t = now();
    const changed = withoutTime(record) !== lastBody;
    if (
      opts.urgent(record) !== lastUrgent ||
      (changed && t - lastWriteAt >= opts.intervalMs) ||
      t - lastWriteAt >= heartbeatMs
    ) {
      void publish(record);
    }
  };

  const timer = setInterval(tick, Math.max(50, Math.min(500, Math.floor(opts.intervalMs / 4))));
  timer.unref();
  tick();

  return {
    async flush() {
      await writing;
      await publish(opts.snapshot());
    },
    async stop() {
      clearInterval(timer);
      await writing;
      await publish(opts.snapshot());
      await opts.store.close();
    },
  };
}
