// The replication connection. Only our code acknowledges WAL: automatic acknowledgement and the
// library's timer (which would report the last *received* LSN as flushed) are both off; standby
// status updates carry exactly the LSN the publisher says is durable in Kafka, periodically and
// whenever the server asks for a reply.
import { LogicalReplicationService, PgoutputPlugin, type Pgoutput } from 'pg-logical-replication';
import type { ClientConfig } from 'pg';
import type { Logger } from '../../pipeline/observability/logger.ts';
import { PgcdcError } from '../../pipeline/errors.ts';
import { formatLsn, parseLsn, type Lsn } from '../../schemas/lsn.ts';
import { OriginFilter, originOption } from './origin.ts';
import { installPgoutputTextDecoder } from './pgoutput-text.ts';

/** pgoutput plugin that hands column values over as raw text (no lossy type parsing). */
class RawTextPgoutputPlugin extends PgoutputPlugin {
  override parse(buffer: Buffer): Pgoutput.Message {
    const msg = super.parse(buffer);
    // The parser caches this relation object and reads later tuples through its column parsers.
    if (msg.tag === 'relation') for (const c of msg.columns) c.parser = (raw: string) => raw;
    return msg;
  }
}

/** The same plugin asking PostgreSQL 16+ for local changes only (`origin 'none'`; origin.ts). */
class LocalOnlyPgoutputPlugin extends RawTextPgoutputPlugin {
  override async start(
    client: Parameters<PgoutputPlugin['start']>[0],
    slot: string,
    lsn: string,
  ): Promise<unknown> {
    const r = await client.query<{ server_version_num: string }>('SHOW server_version_num');
    const option = originOption(Number(r.rows[0]?.server_version_num ?? 0));
    if (!option) return (await super.start(client, slot, lsn)) as unknown;
    const o = this.options;
    const options = [
      `proto_version '${o.protoVersion}'`,
      `publication_names '${o.publicationNames.join(',')}'`,
      `messages '${o.messages ?? false}'`,
      option,
    ];
    return client.query(`START_REPLICATION SLOT "${slot}" LOGICAL ${lsn} (${options.join(', ')})`);
  }
}

/** Type output of source sessions (walsender and snapshot reads): ISO dates in UTC, exact floats. */
export const SOURCE_SESSION_OPTIONS =
  '-c TimeZone=UTC -c DateStyle=ISO -c extra_float_digits=3 -c IntervalStyle=iso_8601 -c bytea_output=hex';

export interface ReplicationStreamOptions {
  connectionString: string;
  /** the connection settings from the connection factory (replication role); default: the URL alone */
  connection?: ClientConfig;
  slot: string;
  publication: string;
  /** Start position: the slot's confirmed_flush_lsn. Also the first LSN we report. */
  startLsn: Lsn;
  statusIntervalMs: number;
  logger: Logger;
  /** skip transactions applied by a peer's sink (replication origin set): peers' no-echo rule */
  localOnly?: boolean;
  /** a message handled for longer than this fails the stream (retriable): see source.stallTimeoutMs */
  stallTimeoutMs?: number;
}

export class ReplicationStream {
  private readonly service: LogicalReplicationService;
  private acked: Lsn;
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;
  private held = false;
  /** when the message being handled was handed to the handler (undefined: none in hand) */
  private busySince: number | undefined;
  private stallTimer: NodeJS.Timeout | undefined;
  private idleKeepalive: ((lsn: Lsn) => void) | undefined;

  constructor(private readonly opts: ReplicationStreamOptions) {
    installPgoutputTextDecoder(); // the same strings, less CPU per column value
    this.acked = opts.startLsn;
    this.service = new LogicalReplicationService(
      opts.connection ?? {
        connectionString: opts.connectionString,
        options: SOURCE_SESSION_OPTIONS,
        application_name: `pgcdc:${opts.slot}`,
      },
      { acknowledge: { auto: false, timeoutSeconds: 0 }, flowControl: { enabled: true } },
    );
  }

  get acknowledgedLsn(): Lsn {
    return this.acked;
  }

  /** Streams until stop() or an error; each message is handled (awaited) before the next. */
  run(onMessage: (msg: Pgoutput.Message, lsn: string) => Promise<void>): Promise<void> {
    const pluginOptions = {
      protoVersion: 1 as const,
      publicationNames: [this.opts.publication],
      messages: true,
    };
    const plugin = this.opts.localOnly
      ? new LocalOnlyPgoutputPlugin(pluginOptions)
      : new RawTextPgoutputPlugin(pluginOptions);
    const origins = this.opts.localOnly ? new OriginFilter() : undefined;
    return new Promise<void>((resolve, reject) => {
      let failed = false;
      const fail = (err: unknown) => {
        if (failed) return;
        failed = true;
        this.clearTimer();
        void this.service.stop().finally(() => reject(err instanceof Error ? err : new Error(String(err))));
      };
      this.service.on('data', async (lsn: string, msg: Pgoutput.Message) => {
        if (failed || this.stopping || this.held) return;
        if (origins && !origins.pass(msg)) return;
        this.busySince = Date.now();
        try {
          await onMessage(msg, lsn);
        } catch (err) {
          fail(err);
        } finally {
          this.busySince = undefined;
        }
      });
      this.service.on('error', fail);
      this.service.on('heartbeat', (lsn: string, _ts: number, shouldRespond: boolean) => {
        if (this.idleKeepalive && this.drained()) this.idleKeepalive(parseLsn(lsn));
        if (shouldRespond) this.sendStatus();
      });
      this.service.on('start', () => {
        this.timer = setInterval(() => this.sendStatus(), this.opts.statusIntervalMs);
        const stallMs = this.opts.stallTimeoutMs;
        if (stallMs)
          this.stallTimer = setInterval(
            () => {
              const since = this.busySince;
              if (since === undefined || Date.now() - since < stallMs || this.stopping) return;
              fail(
                new PgcdcError(
                  `a change has waited ${Math.round((Date.now() - since) / 1000)} s to be handed over to Kafka; the replication connection is closed and opened again`,
                  {
                    retriable: true,
                    hint: 'Kafka is not acknowledging (see the producer errors); while the stream stands still pgcdc does not read the connection, and the server could not end its walsender (a slot invalidation would block the checkpointer). Nothing acknowledged is lost: the stream resumes at the confirmed position (source.stallTimeoutMs)',
                  },
                ),
              );
            },
            Math.min(1000, stallMs),
          );
      });
      this.service.subscribe(plugin, this.opts.slot, formatLsn(this.opts.startLsn)).then(
        () =>
          this.stopping ? resolve() : fail(new Error(`replication stream of slot ${this.opts.slot} ended`)),
        (err: unknown) => (this.stopping ? resolve() : fail(err)),
      );
    });
  }

  /** Record that everything up to `lsn` is durable downstream and tell the server. Never moves back. */
  acknowledge(lsn: Lsn): void {
    if (lsn <= this.acked) return;
    this.acked = lsn;
    this.sendStatus();
  }

  private sendStatus(): void {
    // The library reports (argument + 1); hand it acked - 1 so the server receives exactly `acked`.
    // Reporting one byte too far could skip a transaction whose commit record starts right there.
    if (this.acked > 0n) void this.service.acknowledge(formatLsn(this.acked - 1n));
  }

  private clearTimer(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.stallTimer) clearInterval(this.stallTimer);
    this.timer = undefined;
    this.stallTimer = undefined;
  }

  /**
   * `onIdle` may acknowledge a keepalive's position (the server's sent position): it is called only
   * when every message received before the keepalive has been handled (the library's flow-control
   * queue is empty and no handler runs); whether all of them are in Kafka is the caller's check.
   */
  acknowledgeKeepalivesWhen(onIdle: (lsn: Lsn) => void): void {
    this.idleKeepalive = onIdle;
  }

  /** Nothing received is waiting or being handled (pg-logical-replication's flow-control queue). */
  private drained(): boolean {
    const q = this.service as unknown as { _messageQueue?: unknown[]; _processing?: boolean };
    return this.busySince === undefined && q._messageQueue?.length === 0 && q._processing === false;
  }

  /** Stop handling messages (the rest is re-read after a restart); status updates continue. */
  hold(): void {
    this.held = true;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.sendStatus();
    this.clearTimer();
    await this.service.stop();
    this.service.removeAllListeners();
  }
}
