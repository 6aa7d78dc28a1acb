// The producer service: source table -> replication slot -> change events -> Kafka topic.
// Wires the stages (setup, replication stream, assembler, publisher) and restarts the stream with
// backoff after any failure: the stream resumes from the slot's confirmed position, so events not
// yet acknowledged are read and published again (duplicates, never loss). The snapshot feed
// (producers/snapshot) runs alongside the stream and interleaves `op = r` events with it.
import pg from 'pg';
import type { Config } from '../pipeline/config/schema.ts';
import { topicConfigFor, topicFor } from '../pipeline/config/schema.ts';
import { describeError, PgcdcError } from '../pipeline/errors.ts';
import type { KafkaClientFactory } from '../pipeline/kafka/port.ts';
import { AuditSummary } from '../pipeline/observability/audit.ts';
import type { Logger } from '../pipeline/observability/logger.ts';
import type { Metrics } from '../pipeline/observability/metrics.ts';
import { createEventCodec } from '../schemas/codec.ts';
import { loadContract } from '../schemas/contract.ts';
import { HEARTBEAT_PREFIX, TransactionAssembler } from './postgres/assembler.ts';
import { formatLsn } from '../schemas/lsn.ts';
import { PositionKeeper, storePosition } from './postgres/position.ts';
import { ReplicationStream } from './postgres/replication.ts';
import { emitHeartbeat, prepareSource } from './postgres/setup.ts';
import { AckingPublisher } from './publisher.ts';
import { createSnapshotFeed, type SnapshotFeed } from './snapshot/runner.ts';

export const PIPELINE_VERSION = '0.1.0';

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
}

export interface ProducerState {
  running: boolean;
  confirmedLsn: string | undefined;
  lastEventAt: Date | undefined;
  lastError: string | undefined;
  /** progress of the snapshot being fed into the stream, if one runs (shown by `pgcdc status`) */
  snapshot?: { state: 'running'; snapshotId: string; rowsDone: number; rowsTotal: number | null } | undefined;
}

export function createProducer(deps: ProducerDeps): Service & { state(): ProducerState } {
  const { config, logger } = deps;
  const log = logger.child({ component: 'producer', slot: config.source.slot });
  const topic = topicFor(config.kafka, config.source);
  const contract = loadContract(config.source.table, config.source.schema);
  let stopping = false;
  let current: { stop(): Promise<void> } | undefined;
  let wake: (() => void) | undefined;
  let feedNow: SnapshotFeed | undefined;
  // audit: one info line per interval with the events streamed (and snapshot rows fed)
  const streamAudit = new AuditSummary(log, { kind: 'stream' });
  const snapshotAudit = new AuditSummary(log, { kind: 'snapshot' });
  const st: ProducerState = {
    running: false,
    confirmedLsn: undefined,
    lastEventAt: undefined,
    lastError: undefined,
  };

  async function runOnce(): Promise<void> {
    const client = new pg.Client({ connectionString: config.source.url, application_name: 'pgcdc-producer' });
    const admin = deps.kafka.admin();
    const producer = deps.kafka.producer();
    let stream: ReplicationStream | undefined;
    let heartbeat: NodeJS.Timeout | undefined;
    let auditTimer: NodeJS.Timeout | undefined;
    let publisher: AckingPublisher | undefined;
    let keeper: PositionKeeper | undefined;
    let snapshot: SnapshotFeed | undefined;
    let cleaned: Promise<void> | undefined;
    const cleanup = () => (cleaned ??= closeAll());
    const closeAll = async () => {
      if (heartbeat) clearInterval(heartbeat);
      clearInterval(auditTimer);
      streamAudit.flush({ confirmedLsn: st.confirmedLsn });
      snapshotAudit.flush();
      await snapshot?.stop();
      publisher?.close();
      await stream?.stop().catch(() => undefined);
      await producer.disconnect().catch(() => undefined);
      await admin.disconnect().catch(() => undefined);
      await client.end().catch(() => undefined);
    };
    current = {
      // Graceful: stop taking messages, publish what was read, report that position, then close.
      stop: async () => {
        stream?.hold();
        await publisher?.flush().catch(() => undefined);
        await keeper?.flush();
        await cleanup();
      },
    };
    try {
      await client.connect();
      client.on('error', (err) => log.warn({ err: err.message }, 'source connection error'));
      const slot = await prepareSource(client, config.source);
      log.info(
        {
          slot: config.source.slot,
          created: slot.created,
          adopted: slot.adopted,
          confirmedLsn: formatLsn(slot.confirmedFlushLsn),
          positionTable: `${config.source.position.schema}.${config.source.position.table}`,
        },
        'source ready',
      );
      await admin.connect();
      const created = await admin.ensureTopic({
        topic,
        partitions: config.kafka.partitions,
        replicationFactor: config.kafka.replicationFactor,
        config: topicConfigFor(config.kafka),
      });
      log.info({ topic, created }, 'topic ready');
      const codec = await createEventCodec({ registryUrl: config.registry.url, topic, contract });
      await producer.connect();
      stream = new ReplicationStream({
        connectionString: config.source.url,
        slot: config.source.slot,
        publication: config.source.publication,
        startLsn: slot.confirmedFlushLsn,
        statusIntervalMs: config.source.statusIntervalMs,
        logger: log,
      });
      const s = stream;
      // The acknowledged position is stored in the source database before the server hears of
      // it, so the slot can never be ahead of what pgcdc stored (checked at the next start).
      const keep = new PositionKeeper(
        slot.confirmedFlushLsn,
        (lsn) => storePosition(client, config.source.position, config.source.slot, lsn),
        (lsn) => {
          s.acknowledge(lsn);
          st.confirmedLsn = formatLsn(s.acknowledgedLsn);
          deps.metrics.confirmedLsn.set(Number(s.acknowledgedLsn));
        },
        // Spaced writes: one source commit per interval, not one per acknowledged transaction.
        // PostgreSQL < 15 streams empty transactions, this write's included, so there the
        // interval is also at least the status interval (PositionKeeper).
        slot.serverVersion >= 150_000
          ? config.source.ackIntervalMs
          : Math.max(config.source.ackIntervalMs, config.source.statusIntervalMs),
      );
      keeper = keep;
      publisher = new AckingPublisher({
        producer,
        codec,
        topic,
        table: `${contract.schema}.${contract.table}`,
        batchMaxMessages: config.producer.batchMaxMessages,
        lingerMs: config.producer.lingerMs,
        metrics: deps.metrics,
        ackAfterPublish: (lsn) => {
          snapshot?.acknowledged(lsn);
          keep.advance(lsn);
        },
      });
      const pub = publisher;
      const assembler = new TransactionAssembler({
        contract,
        db: slot.database,
        name: config.kafka.topicPrefix,
        version: PIPELINE_VERSION,
        onSchemaDrift: (d) =>
          log.warn(
            { table: d.table, droppedNullable: d.missingNullable, notInContract: d.ignored },
            'source table differs from the event contract: dropped nullable columns are published as null, columns the contract lacks are not published; evolve schemas/avro/*.avsc',
          ),
      });
      const feed = createSnapshotFeed({
        source: config.source,
        slotCreated: slot.created,
        events: { contract, db: slot.database, name: config.kafka.topicPrefix, version: PIPELINE_VERSION },
        logger: log,
        metrics: deps.metrics,
      });
      snapshot = feed;
      feedNow = feed;
      heartbeat = setInterval(() => {
        emitHeartbeat(client, HEARTBEAT_PREFIX).catch((err: unknown) =>
          log.warn({ err: describeError(err) }, 'heartbeat failed'),
        );
      }, config.source.heartbeatIntervalMs);
      st.running = true;
      st.confirmedLsn = formatLsn(slot.confirmedFlushLsn);
      log.info({ topic, from: formatLsn(slot.confirmedFlushLsn) }, 'streaming');
      auditTimer = setInterval(() => {
        streamAudit.flush({ confirmedLsn: st.confirmedLsn });
        snapshotAudit.flush();
      }, config.operations.auditSummaryIntervalMs);
      const streaming = stream.run(async (msg, lsn) => {
        for (const item of assembler.push(msg, lsn)) {
          if (item.kind === 'event') st.lastEventAt = new Date();
          if (item.kind === 'commit') streamAudit.add({ transactions: 1 });
          for (const out of feed.process(item)) {
            if (out.kind === 'event')
              (out.event.source.snapshot ? snapshotAudit : streamAudit).add({ events: 1 });
            await pub.push(out);
          }
        }
      });
      // The feed fails the run like the stream does; it resolves only when stopped.
      await Promise.race([streaming, feed.run().then(() => streaming), keep.failure]);
      if (!stopping) throw new Error('replication stream ended unexpectedly');
    } finally {
      st.running = false;
      await cleanup();
    }
  }

  return {
    id: `producer:${config.source.slot}`,
    state: () => {
      const f = feedNow?.state();
      return {
        ...st,
        snapshot: f?.snapshotId
          ? { state: 'running', snapshotId: f.snapshotId, rowsDone: f.rowsDone, rowsTotal: f.rowsTotal }
          : undefined,
      };
    },
    async run() {
      let delay = 500;
      while (!stopping) {
        const started = Date.now();
        try {
          await runOnce();
        } catch (err) {
          if (stopping) break;
          st.lastError = describeError(err);
          deps.metrics.producerRestarts.inc();
          const retriable = !(err instanceof PgcdcError) || err.retriable;
          log.error(
            {
              err: describeError(err),
              stack: err instanceof Error ? err.stack : undefined,
              retriable,
              retryInMs: delay,
            },
            'producer stream failed; restarting',
          );
          if (Date.now() - started > 60_000) delay = 500;
          await new Promise<void>((r) => {
            const t = setTimeout(r, delay);
            wake = () => {
              clearTimeout(t);
              r();
            };
          });
          delay = Math.min(delay * 2, retriable ? 15_000 : 60_000);
        }
      }
    },
    async stop() {
      stopping = true;
      wake?.();
      await current?.stop();
    },
  };
}
