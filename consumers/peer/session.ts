// The database session of one peer link (docs/peers.md, "No echo"): one connection to the node the
// link applies at, marked with the link's replication origin (origin.ts). A replication origin can
// be in use by one session at a time, so the sinks of every table a link carries (one PeerSink per
// table, pipeline/peers.ts) share this one session, taking turns (the consumer applies one table's
// run after the other). Opened on first use, dropped after a connection failure (the next use opens
// it again), closed when the last table sink closes.
import type pg from 'pg';
import type { Logger } from '../../pipeline/observability/logger.ts';
import type { PgConnections } from '../../pipeline/postgres.ts';
import { markSessionOrigin } from './origin.ts';

export class PeerSession {
  private client: pg.Client | undefined;
  private connecting: Promise<pg.Client> | undefined;
  private users = 0;

  constructor(
    private readonly opts: {
      url: string;
      origin: string;
      /** application_name suffix: the link, `<from>-><to>` */
      label: string;
      pg: PgConnections;
      logger: Logger;
    },
  ) {}

  /** A table sink starts using the session (close with release()). */
  acquire(): void {
    this.users++;
  }

  /** The link's connection, marked with its origin; opened now if there is none. */
  get(): Promise<pg.Client> {
    if (this.client) return Promise.resolve(this.client);
    this.connecting ??= this.connect().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async connect(): Promise<pg.Client> {
    const client = this.opts.pg.client(this.opts.url, 'target', `pgcdc-peer:${this.opts.label}`);
    client.on('error', (err) => this.opts.logger.warn({ err: err.message }, 'peer connection error'));
    try {
      await client.connect();
      await markSessionOrigin(client, this.opts.origin);
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    this.client = client;
    return client;
  }

  /** Drops the connection (after a failure): the next get() opens a new one. */
  async reset(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    await c?.end().catch(() => undefined);
  }

  /** A table sink is done with the session; the last one closes it. */
  async release(): Promise<void> {
    this.users = Math.max(0, this.users - 1);
    if (this.users === 0) await this.reset();
  }
}
