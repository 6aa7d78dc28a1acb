// One streaming run of the producer: source client -> slot -> replication stream -> assembler ->
// snapshot feed -> publisher -> Kafka, with the position keeper closing the loop (a WAL position is
// stored in the source and then acknowledged only after Kafka acknowledged everything before it).
// A session runs until it fails or is stopped; it never retries (producer.ts restarts it). Its
// clients and codec come from factories the composition root hands in; the session owns and closes
// what it opened, whichever way it ends. Several tables (docs/tables.md): one slot and one
// publication for all of them, one topic and codec per table, one snapshot feed per table. The
// acknowledgement chain is acknowledgements.ts; each table's contract and route, and their automatic
// evolution, captured-tables.ts.
import type pg from 'pg';
import type { Config } from '../pipeline/config/schema.ts';
import { topicConfigFor } from '../pipeline/config/schema.ts';
import { describeError } from '../pipeline/errors.ts';
import type { KafkaAdminPort, KafkaClientFactory, KafkaProducerPort } from '../pipeline/kafka/port.ts';
import { AuditSummary } from '../pipeline/observability/audit.ts';
import type { Logger } from '../pipeline/observability/logger.ts';
import type { Metrics } from '../pipeline/observability/metrics.ts';
import type { PgConnections } from '../pipeline/postgres.ts';
import type { EventCodec } from '../schemas/codec.ts';
import type { TableContract } from '../schemas/contract.ts';
import { formatLsn } from '../schemas/lsn.ts';
import { needsCompleteUpdates } from '../pipeline/config/mapping.ts';
import { HEARTBEAT_PREFIX, TransactionAssembler, type SourceItem } from './postgres/assembler.ts';
import type { PositionKeeper } from './postgres/position.ts';
import { acknowledgeIdleKeepalives, createPositionKeeper } from './acknowledgements.ts';
import { completeFromSource, ROW_READ_SESSION_SQL } from './postgres/row-reader.ts';
import { ReplicationStream, SOURCE_SESSION_OPTIONS } from './postgres/replication.ts';
import { emitHeartbeat, prepareSource, type SlotInfo } from './postgres/setup.ts';
import { CapturedTables } from './captured-tables.ts';
import { AckingPublisher } from './publisher.ts';
import { combineSnapshotFeeds } from './snapshot/feeds.ts';
import { applySourceFilter, compileSourceFilters, type SourceFilter } from './source-filter.ts';
import { createSnapshotFeed, type SnapshotFeed } from './snapshot/runner.ts';

export const PIPELINE_VERSION = '0.1.0';

/** A captured table: its contract and its topic. */
export interface CapturedTable {
  contract: TableContract;
  topic: string;
}

const nameOf = (c: { schema: string; table: string }) => `${c.schema}.${c.table}`;

/** What a session needs; built once by the producer. */
export interface SessionDeps {
  config: Config;
  kafka: KafkaClientFactory;
  logger: Logger;
  metrics: Metrics;
  /** every captured table, in configuration order */
  tables: CapturedTable[];
  /** A new, unconnected client to the source database (positions, heartbeats, row reads). */
  sourceClient: () => pg.Client;
  /** The registry codec of the topic (registers the contract's schemas). */
  codec: (topic: string, contract: TableContract) => Promise<EventCodec>;
  /** Where the session reports progress (shared with the producer's state()). */
  report: SessionReport;
  /** The composition root's Postgres connection factory (replication and snapshot connections). */
  pg?: PgConnections;
}

export interface SessionReport {
  running: boolean;
  confirmedLsn: string | undefined;
  lastEventAt: Date | undefined;
  /** the snapshot feed of the current session, if it was started */
  feed: SnapshotFeed | undefined;
}

export class StreamSession {
  private readonly log: Logger;
  private readonly client: pg.Client;
  private readonly admin: KafkaAdminPort;
  private readonly producer: KafkaProducerPort;
  private stream: ReplicationStream | undefined;
  private keeper: PositionKeeper | undefined;
  private publisher: AckingPublisher | undefined;
  private feed: SnapshotFeed | undefined;
  /** each table's contract and route (topic, codec), registered at open, evolved in automatic mode */
  private readonly tables: CapturedTables;
  /** source.filter per table (source-filter.ts): what enters Kafka at all */
  private readonly sourceFilters: Map<string, SourceFilter>;
  private timers: NodeJS.Timeout[] = [];
  private closed: Promise<void> | undefined;
  private stopping = false;
  // audit: one info line per interval with the events streamed (and snapshot rows fed)
  private readonly streamAudit: AuditSummary;
  private readonly snapshotAudit: AuditSummary;

  constructor(private readonly deps: SessionDeps) {
    this.log = deps.logger;
    this.client = deps.sourceClient();
    this.admin = deps.kafka.admin();
    this.producer = deps.kafka.producer();
    this.streamAudit = new AuditSummary(this.log, { kind: 'stream' });
    this.snapshotAudit = new AuditSummary(this.log, { kind: 'snapshot' });
    this.tables = new CapturedTables(deps.config.source.schemaChanges === 'automatic', {
      client: this.client,
      register: deps.codec,
      contractsDir: deps.config.source.contracts,
      logger: deps.logger,
    });
    this.sourceFilters = compileSourceFilters(
      deps.config.source,
      deps.tables.map((t) => t.contract),
    );
  }

  /** Streams until stop() (resolves) or a failure (rejects); closes everything either way. */
  async run(): Promise<void> {
    try {
      const slot = await this.open();
      const { streaming, keeper, feed } = this.wire(slot);
      // The feed fails the run like the stream does; it resolves only when stopped.
      await Promise.race([streaming, feed.run().then(() => streaming), keeper.failure]);
      if (!this.stopping) throw new Error('replication stream ended unexpectedly');
    } finally {
      this.deps.report.running = false;
      await this.close();
    }
  }

  /** Graceful: stop taking messages, publish what was read, report that position, then close. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.stream?.hold();
    await this.publisher?.flush().catch(() => undefined);
    await this.keeper?.flush();
    await this.close();
  }

  /** Source prepared (publication, slot, position checked), topic ensured, codec registered. */
  private async open(): Promise<SlotInfo> {
    const { config, tables } = this.deps;
    // start-up: the Kafka connections open while the source is prepared (awaited before first use)
    const kafkaConnected = Promise.all([this.admin.connect(), this.producer.connect()]);
    kafkaConnected.catch(() => undefined); // its failure surfaces at the await below
    await this.client.connect();
    this.client.on('error', (err) => this.log.warn({ err: err.message }, 'source connection error'));
    await this.client.query(ROW_READ_SESSION_SQL);
    const slot = await prepareSource(this.client, config.source);
    this.log.info(
      {
        slot: config.source.slot,
        created: slot.created,
        adopted: slot.adopted,
        confirmedLsn: formatLsn(slot.confirmedFlushLsn),
        positionTable: `${config.source.position.schema}.${config.source.position.table}`,
      },
      'source ready',
    );
    await kafkaConnected;
    for (const { topic, contract } of tables) {
      const [created, codec] = await Promise.all([
        this.admin.ensureTopic({
          topic,
          partitions: config.kafka.partitions,
          replicationFactor: config.kafka.replicationFactor,
          config: topicConfigFor(config.kafka, config.producer),
        }),
        this.deps.codec(topic, contract),
      ]);
      this.log.info({ topic, table: nameOf(contract), created }, 'topic ready');
      await this.tables.open(topic, contract, codec);
    }
    return slot;
  }

  /** Builds the stages of this session and starts the stream; returns what the run waits on. */
  private wire(slot: SlotInfo) {
    const { config, tables, report } = this.deps;
    const stream = (this.stream = new ReplicationStream({
      connectionString: config.source.url,
      ...(this.deps.pg
        ? {
            connection: this.deps.pg.config(
              config.source.url,
              'replication',
              `pgcdc:${config.source.slot}`,
              SOURCE_SESSION_OPTIONS,
            ),
          }
        : {}),
      slot: config.source.slot,
      publication: config.source.publication,
      startLsn: slot.confirmedFlushLsn,
      statusIntervalMs: config.source.statusIntervalMs,
      logger: this.log,
      localOnly: config.source.origins === 'local',
      stallTimeoutMs: config.source.stallTimeoutMs,
    }));
    const keeper = (this.keeper = createPositionKeeper({
      slot,
      stream,
      client: this.client,
      source: config.source,
      metrics: this.deps.metrics,
      onConfirmed: (lsn) => (report.confirmedLsn = lsn),
    }));
    const contracts = tables.map((t) => this.tables.contract(nameOf(t.contract))!);
    const feed = (this.feed = combineSnapshotFeeds(
      contracts.map((contract) =>
        createSnapshotFeed({
          contractNow: () => this.tables.forSnapshot(nameOf(contract)),
          source: config.source,
          slotCreated: slot.created,
          events: { contract, db: slot.database, name: config.kafka.topicPrefix, version: PIPELINE_VERSION },
          logger: this.log,
          metrics: this.deps.metrics,
          ...(this.deps.pg ? { pg: this.deps.pg } : {}),
        }),
      ),
    ));
    report.feed = feed;
    this.tables.onEvolved((contract) => feed.evolve(contract));
    const publisher = (this.publisher = new AckingPublisher({
      producer: this.producer,
      routes: this.tables.routes,
      batchMaxMessages: config.producer.batchMaxMessages,
      batchMaxBytes: config.producer.batchMaxBytes,
      maxMessageBytes: config.producer.maxMessageBytes,
      lingerMs: config.producer.lingerMs,
      metrics: this.deps.metrics,
      ackAfterPublish: (lsn) => {
        feed.acknowledged(lsn);
        keeper.advance(lsn);
      },
    }));
    const assembler = new TransactionAssembler({
      contracts,
      db: slot.database,
      name: config.kafka.topicPrefix,
      version: PIPELINE_VERSION,
      onSchemaDrift: (d) =>
        this.log.warn(
          { table: d.table, droppedNullable: d.missingNullable, notInContract: d.ignored },
          'source table differs from the event contract: dropped nullable columns are published as null, columns the contract lacks are not published; evolve schemas/avro/*.avsc',
        ),
    });
    acknowledgeIdleKeepalives(
      stream,
      { publisher: () => publisher.idle(), inTransaction: () => assembler.inTransaction },
      keeper,
    );
    this.startTimers();
    report.running = true;
    report.confirmedLsn = formatLsn(slot.confirmedFlushLsn);
    this.log.info(
      { topics: tables.map((t) => t.topic), from: formatLsn(slot.confirmedFlushLsn) },
      'streaming',
    );
    const streaming = stream.run(async (msg, lsn) => {
      if (msg.tag === 'relation') await this.tables.relation(msg, assembler);
      for (const item of assembler.push(msg, lsn)) await this.forward(item, feed, publisher);
    });
    return { streaming, keeper, feed };
  }

  /** One assembled item through the snapshot feed (which may interleave `r` events) to Kafka. */
  private async forward(
    assembled: SourceItem,
    feed: SnapshotFeed,
    publisher: AckingPublisher,
  ): Promise<void> {
    const item = await this.complete(assembled, feed);
    if (!item) return;
    if (item.kind === 'event') this.deps.report.lastEventAt = new Date();
    if (item.kind === 'commit') this.streamAudit.add({ transactions: 1 });
    if (item.kind === 'truncate') {
      this.streamAudit.add({ truncates: 1 });
      this.log.info(
        {
          table: nameOf(item.event.source),
          commitLsn: formatLsn(item.commitLsn),
        },
        'TRUNCATE at the source: published as a truncate event (op t); each target applies or ignores it (targets[].onTruncate)',
      );
    }
    const gate = feed.gate(item); // a snapshot chunk's rows wait for an earlier checkpoint
    if (gate) await gate;
    for (const produced of feed.process(item)) {
      const out = this.filtered(produced);
      if (!out) continue;
      if (out.kind === 'event')
        (out.event.source.snapshot ? this.snapshotAudit : this.streamAudit).add({ events: 1 });
      await publisher.push(out);
    }
  }

  /** A snapshot read or a change through its table's source filter (source-filter.ts). */
  private filtered(item: SourceItem): SourceItem | undefined {
    if (item.kind !== 'event' || this.sourceFilters.size === 0) return item;
    const table = nameOf(item.event.source);
    return applySourceFilter(this.sourceFilters.get(table), item, (err) =>
      this.log.warn(
        { table, lsn: formatLsn(item.event.source.lsn), err: err.message },
        'source.filter failed to evaluate for a row: the row counts as outside the filter',
      ),
    );
  }

  /**
   * The one completion of a change that lacks unchanged TOASTed values, read from the source by
   * key (row-reader.ts), when a consumer needs the whole row:
   * - the create of a key-changing update (the new key's row is new at every target);
   * - an update of a table with a source filter, or any update when a target has a row filter
   *   (pipeline/config/mapping.ts): a row can enter a filter through such an update;
   * - an update of a row the running snapshot may not have fed yet (snapshot/unread.ts), so that a
   *   target filled from the topic can create the row.
   * The read may see a newer value, which the later change sets again. A row gone by then is not
   * published in the first two cases (the later change that removed it follows; a filter could
   * not be decided); in the last it is published as it came.
   */
  private async complete(item: SourceItem, feed: SnapshotFeed): Promise<SourceItem | undefined> {
    if (item.kind !== 'event' || item.event.unchanged.length === 0) return item;
    const { op } = item.event;
    const table = nameOf(item.event.source);
    const whole = op === 'c' || (op === 'u' && (this.completeUpdates || this.sourceFilters.has(table)));
    if (!whole && !(op === 'u' && feed.mayBeUnread(item.key, table))) return item;
    const contract = this.tables.contract(table)!;
    const event = await completeFromSource(this.client, contract, item.key, item.event);
    if (event) return { ...item, event };
    if (!whole) return item;
    this.log.info(
      {
        table,
        key: Object.values(item.key).map(String).join(','),
        lsn: formatLsn(item.event.source.lsn),
        op,
      },
      'row of a change without its unchanged TOASTed values is gone from the source; the change is not published (the later change that removed it follows)',
    );
    return undefined;
  }

  private get completeUpdates(): boolean {
    return needsCompleteUpdates(this.deps.config.targets);
  }

  private startTimers(): void {
    const { config } = this.deps;
    this.timers.push(
      setInterval(() => {
        emitHeartbeat(this.client, HEARTBEAT_PREFIX).catch((err: unknown) =>
          this.log.warn({ err: describeError(err) }, 'heartbeat failed'),
        );
      }, config.source.heartbeatIntervalMs),
      setInterval(() => this.flushAudit(), config.operations.auditSummaryIntervalMs),
    );
  }

  private flushAudit(): void {
    this.streamAudit.flush({ confirmedLsn: this.deps.report.confirmedLsn });
    this.snapshotAudit.flush();
  }

  private close(): Promise<void> {
    return (this.closed ??= (async () => {
      for (const t of this.timers) clearInterval(t);
      this.flushAudit();
      await this.feed?.stop();
      this.publisher?.close();
      await this.stream?.stop().catch(() => undefined);
      await this.producer.disconnect().catch(() => undefined);
      await this.admin.disconnect().catch(() => undefined);
      await this.client.end().catch(() => undefined);
    })());
  }
}
