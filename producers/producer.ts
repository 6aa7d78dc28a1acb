// The producer service: source tables -> replication slot -> change events -> one Kafka topic per table.
// A session (session.ts) wires the stages; this service restarts it after any failure with the one
// backoff policy (pipeline/retry.ts): 500 ms doubling to 15 s for retriable failures and to 60 s for
// the others, from 500 ms again after a run that stayed healthy for a minute. A restarted session
// resumes from the slot's confirmed position, so events not yet acknowledged are read and published
// again (duplicates, never loss). The snapshot feed (producers/snapshot) runs inside each session
// and interleaves `op = r` events with the stream.
import type pg from 'pg';
import type { Config } from '../pipeline/config/schema.ts';
import { contractsOf, topicFor } from '../pipeline/config/schema.ts';
import { describeError, PgcdcError } from '../pipeline/errors.ts';
import type { KafkaClientFactory } from '../pipeline/kafka/port.ts';
import type { Logger } from '../pipeline/observability/logger.ts';
import type { Metrics } from '../pipeline/observability/metrics.ts';
import type { PgConnections } from '../pipeline/postgres.ts';
import { createBackoff, sleep } from '../pipeline/retry.ts';
import type { EventCodec } from '../schemas/codec.ts';
import type { TableContract } from '../schemas/contract.ts';
import { parseLsn, type Lsn } from '../schemas/lsn.ts';
import { StreamSession, type SessionReport } from './session.ts';

export interface Service {
  readonly id: string;
  run(): Promise<void>;
  stop(): Promise<void>;
}

export interface ProducerDeps {
  config: Config;
  kafka: KafkaClientFactory;
  logger: Logger;
  metrics: Metrics;
  /** A new, unconnected client to the source database; one per session, closed by it. */
  sourceClient: () => pg.Client;
  /** The registry codec of the topic (registers the contract's key and value schemas). */
  codec: (topic: string, contract: TableContract) => Promise<EventCodec>;
  /** The composition root's Postgres connection factory (replication and snapshot connections). */
  pg?: PgConnections;
}

export interface ProducerState {
  running: boolean;
  confirmedLsn: string | undefined;
  lastEventAt: Date | undefined;
  lastError: string | undefined;
  /** progress of the snapshot being fed into the stream, if one runs (shown by `pgcdc status`) */
  snapshot?: { state: 'running'; snapshotId: string; rowsDone: number; rowsTotal: number | null } | undefined;
}

/** Restart delays (see the header); a run longer than HEALTHY_RUN_MS starts the schedule again. */
export const RESTART_BACKOFF = { initialMs: 500, maxMs: 60_000 } as const;
export const RETRIABLE_RESTART_MAX_MS = 15_000;
export const HEALTHY_RUN_MS = 60_000;

/** The producer's restart delays: `next(retriable, ranMs)` after a session that failed after `ranMs`. */
export function restartSchedule() {
  const backoff = createBackoff(RESTART_BACKOFF);
  return {
    next(retriable: boolean, ranMs: number): number {
      if (ranMs > HEALTHY_RUN_MS) backoff.reset();
      const delay = backoff.next();
      return retriable ? Math.min(delay, RETRIABLE_RESTART_MAX_MS) : delay;
    },
  };
}

export function createProducer(deps: ProducerDeps): Service & { state(): ProducerState } {
  const { config } = deps;
  const log = deps.logger.child({ component: 'producer', slot: config.source.slot });
  const tables = contractsOf(config.source).map((contract) => ({
    contract,
    topic: topicFor(config.kafka, contract),
  }));
  const stopped = new AbortController();
  let current: StreamSession | undefined;
  let lastError: string | undefined;
  // A non-retriable failure holds the producer "not running" (readiness, status) until the confirmed
  // position moves past where it failed: restarts onto the same change do not flicker it back.
  let haltedAt: Lsn | undefined;
  const position = () => parseLsn(report.confirmedLsn ?? '0/0');
  const halted = () => {
    if (haltedAt !== undefined && position() > haltedAt) haltedAt = undefined;
    return haltedAt !== undefined;
  };
  const report: SessionReport = {
    running: false,
    confirmedLsn: undefined,
    lastEventAt: undefined,
    feed: undefined,
  };

  const newSession = () =>
    new StreamSession({
      config,
      kafka: deps.kafka,
      logger: log,
      metrics: deps.metrics,
      tables,
      sourceClient: deps.sourceClient,
      codec: deps.codec,
      ...(deps.pg ? { pg: deps.pg } : {}),
      report,
    });

  return {
    id: `producer:${config.source.slot}`,
    state: () => {
      const f = report.feed?.state();
      return {
        running: report.running && !halted(),
        confirmedLsn: report.confirmedLsn,
        lastEventAt: report.lastEventAt,
        lastError,
        snapshot: f?.snapshotId
          ? { state: 'running', snapshotId: f.snapshotId, rowsDone: f.rowsDone, rowsTotal: f.rowsTotal }
          : undefined,
      };
    },
    async run() {
      const schedule = restartSchedule();
      while (!stopped.signal.aborted) {
        const started = Date.now();
        try {
          await (current = newSession()).run();
        } catch (err) {
          if (stopped.signal.aborted) break;
          lastError = describeError(err);
          deps.metrics.producerRestarts.inc();
          const retriable = !(err instanceof PgcdcError) || err.retriable;
          haltedAt = retriable ? undefined : position();
          const delay = schedule.next(retriable, Date.now() - started);
          log.error(
            {
              err: lastError,
              stack: err instanceof Error ? err.stack : undefined,
              retriable,
              retryInMs: delay,
            },
            'producer stream failed; restarting',
          );
          await sleep(delay, stopped.signal);
        }
      }
    },
    async stop() {
      stopped.abort();
      await current?.stop();
    },
  };
}
