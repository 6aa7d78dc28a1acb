// The last reconcile of a target, kept where `pgcdc status` reads (the status topic, key
// `reconcile:<target>`, pipeline/supervision/status-store.ts): when it ended, its verdict and its
// counts, written by the schedule (schedule.ts) and by `pgcdc reconcile` after each run. The
// counts and verdict of a report are pure (also the audit line's); writing is best effort: a
// status topic that cannot be written never fails the reconcile itself.
import type { Config } from '../../pipeline/config/schema.ts';
import { describeError } from '../../pipeline/errors.ts';
import type { KafkaClientFactory } from '../../pipeline/kafka/port.ts';
import type { Logger } from '../../pipeline/observability/logger.ts';
import {
  createKafkaStatusStore,
  processIdentity,
  reconcileKey,
  statusTopicFor,
  type ReconcileStatusRecord,
} from '../../pipeline/supervision/status-store.ts';
import type { ReconcileReport } from './index.ts';

export type Verdict = ReconcileStatusRecord['verdict'];

/** Counts over the report's tables: compared, missing, extra (owned), foreign, differing, undecided, fed, removed. */
export function reportCounts(r: ReconcileReport): Record<string, number> {
  const c = { compared: 0, missing: 0, extra: 0, foreign: 0, differing: 0, undecided: 0, fed: 0, removed: 0 };
  for (const t of r.tables) {
    c.compared += t.compared;
    c.missing += t.missing;
    c.extra += t.extra.owned;
    c.foreign += t.extra.foreign;
    c.differing += t.differing;
    c.undecided += t.unsettled;
    c.fed += t.repaired?.fed ?? 0;
    c.removed += t.repaired?.removed ?? 0;
  }
  return c;
}

export const verdictOf = (r: ReconcileReport): Verdict =>
  r.drift ? 'drift' : r.undecided ? 'undecided' : 'ok';

export interface ReconcileOutcome {
  target: string;
  by: ReconcileStatusRecord['by'];
  mode: ReconcileStatusRecord['mode'];
  startedMs: number;
  report?: ReconcileReport;
  error?: unknown;
}

/** The status record of one run (pure but for the process identity). */
export function reconcileRecord(
  o: ReconcileOutcome,
  processStart: Date,
  nowMs = Date.now(),
): ReconcileStatusRecord {
  const now = new Date(nowMs).toISOString();
  return {
    v: 1,
    ...processIdentity(processStart),
    updatedAt: now,
    kind: 'reconcile',
    target: o.target,
    finishedAt: now,
    seconds: (nowMs - o.startedMs) / 1000,
    by: o.by,
    mode: o.mode,
    verdict: o.report ? verdictOf(o.report) : 'error',
    counts: o.report ? reportCounts(o.report) : {},
    error: o.error === undefined ? null : describeError(o.error),
  };
}

const processStart = new Date();

/** Writes the run's record to the status topic; a failure is logged, never thrown. */
export async function recordReconcile(
  deps: { config: Config; kafka: KafkaClientFactory; logger: Logger },
  o: ReconcileOutcome,
): Promise<void> {
  const store = createKafkaStatusStore(deps.kafka, {
    topic: statusTopicFor(deps.config.kafka, deps.config.operations),
    replicationFactor: deps.config.kafka.replicationFactor,
  });
  try {
    await store.write(reconcileKey(o.target), reconcileRecord(o, processStart));
  } catch (err) {
    deps.logger.warn(
      { err: describeError(err), target: o.target },
      'could not record the reconcile in the status topic',
    );
  } finally {
    await store.close();
  }
}
