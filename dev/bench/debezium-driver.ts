// Debezium as the benchmark's comparison peer (never part of the product): one Kafka Connect
// standalone worker (a JVM, -Xmx512m) started once, and per round a Debezium PostgreSQL source
// connector (pgoutput, the round's slot and publication) and a Debezium JDBC sink connector
// (upsert into the peer), created and deleted through Connect's REST API. JSON converter with
// schemas (the JDBC sink needs them). Otherwise Debezium's and Connect's defaults.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT, type StackSettings, type StackUrls } from '../stack/settings.ts';
import { PeakTracker, type PipelineDriver, type Round } from './driver.ts';
import { installSyncedStamp, withPg } from './env.ts';
import { installConnect, installDebezium } from './install.ts';
import { freePort, spawnChild, type Child } from './proc.ts';

export interface DebeziumDriverOptions {
  settings: StackSettings;
  urls: StackUrls;
  dir: string;
  heapMb?: number;
  log: (m: string) => void;
}

export class DebeziumDriver implements PipelineDriver {
  readonly name = 'debezium';
  readonly syncedColumn = 'bench_synced_at';
  private worker: Child | undefined;
  private rest = '';
  private version = '';
  private source: string | undefined;
  private sink: string | undefined;
  private sourceSlot: { url: string; slot: string } | undefined;
  private readonly peaks = new PeakTracker();
  private readonly extra = new Set<string>();

  constructor(private readonly opts: DebeziumDriverOptions) {}

  async start(): Promise<void> {
    const { settings, log } = this.opts;
    const libs = await installConnect(settings, log);
    const dbz = await installDebezium(settings, log);
    this.version = dbz.version;
    const port = await freePort();
    this.rest = `http://127.0.0.1:${port}`;
    const props = path.join(this.opts.dir, 'connect-worker.properties');
    writeFileSync(
      props,
      [
        `bootstrap.servers=${this.opts.urls.kafkaBrokers.join(',')}`,
        'key.converter=org.apache.kafka.connect.json.JsonConverter',
        'value.converter=org.apache.kafka.connect.json.JsonConverter',
        'key.converter.schemas.enable=true',
        'value.converter.schemas.enable=true',
        `offset.storage.file.filename=${path.join(this.opts.dir, 'connect.offsets')}`,
        // offsets (and so the slot's confirmed LSN and the sink group's position) every second
        'offset.flush.interval.ms=1000',
        `plugin.path=${dbz.pluginPath}`,
        `listeners=http://127.0.0.1:${port}`,
        '',
      ].join('\n'),
    );
    const heap = this.opts.heapMb ?? 512;
    this.worker = spawnChild(
      'kafka connect (debezium)',
      'java',
      [
        `-Xmx${heap}m`,
        `-Xms${Math.min(128, heap)}m`,
        '-XX:+UseG1GC',
        '-Djava.awt.headless=true',
        `-Dlog4j2.configurationFile=${path.join(PROJECT_ROOT, 'dev/bench/maven/connect-log4j2.xml')}`,
        '-cp',
        `${libs}/*`,
        'org.apache.kafka.connect.cli.ConnectStandalone',
        props,
      ],
      { logFile: path.join(this.opts.dir, 'connect.log') },
    );
    log(
      `started Kafka Connect (pid ${this.worker.pid}) with Debezium ${dbz.version}; waiting for ${this.rest}`,
    );
    const deadline = Date.now() + 180_000;
    for (;;) {
      if (!this.worker.alive())
        throw new Error(`Kafka Connect exited during start-up:\n${this.worker.tail(30)}`);
      const ok = await fetch(`${this.rest}/connector-plugins`, { signal: AbortSignal.timeout(2000) })
        .then(async (r) => (r.ok ? ((await r.json()) as { class: string }[]) : undefined))
        .catch(() => undefined);
      if (ok) {
        const classes = ok.map((p) => p.class);
        for (const need of [
          'io.debezium.connector.postgresql.PostgresConnector',
          'io.debezium.connector.jdbc.JdbcSinkConnector',
        ])
          if (!classes.includes(need)) throw new Error(`Kafka Connect did not load ${need}`);
        return;
      }
      if (Date.now() > deadline) throw new Error(`Kafka Connect REST not ready:\n${this.worker.tail(30)}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  topic(r: Round): string {
    return `${r.topicPrefix}.public.users`;
  }
  sinkGroup(r: Round): string {
    return `connect-${r.id}-sink`;
  }

  async preparePeer(r: Round): Promise<void> {
    await installSyncedStamp(r.peerUrl);
  }

  private async create(name: string, config: Record<string, string>): Promise<void> {
    const res = await fetch(`${this.rest}/connectors`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name, config }),
    });
    if (!res.ok) throw new Error(`creating connector ${name}: ${res.status} ${await res.text()}`);
    // fail early on a connector that cannot start
    for (let i = 0; i < 100; i++) {
      const st = await fetch(`${this.rest}/connectors/${name}/status`).then(
        (x) =>
          x.ok
            ? (x.json() as Promise<{
                connector: { state: string };
                tasks: { state: string; trace?: string }[];
              }>)
            : undefined,
        () => undefined,
      );
      const failed = st?.tasks.find((t) => t.state === 'FAILED');
      if (failed)
        throw new Error(`connector ${name} failed: ${failed.trace?.split('\n').slice(0, 3).join(' ')}`);
      if (
        st?.connector.state === 'RUNNING' &&
        st.tasks.length > 0 &&
        st.tasks.every((t) => t.state === 'RUNNING')
      )
        return;
      await new Promise((x) => setTimeout(x, 100));
    }
  }

  /** Tasks that failed after starting, with the first line of their trace. */
  async failures(): Promise<string[]> {
    const out: string[] = [];
    for (const name of [this.source, this.sink, ...this.extra]) {
      if (!name) continue;
      const st = await fetch(`${this.rest}/connectors/${name}/status`)
        .then((x) =>
          x.ok ? (x.json() as Promise<{ tasks: { state: string; trace?: string }[] }>) : undefined,
        )
        .catch(() => undefined);
      for (const t of st?.tasks ?? [])
        if (t.state === 'FAILED') out.push(`${name}: ${t.trace?.split('\n')[0] ?? 'failed'}`);
    }
    return out;
  }

  /** A connector beside the round's own, in the same worker (debezium-mysql.ts). */
  async addConnector(name: string, config: Record<string, string>): Promise<void> {
    await this.create(name, config);
    this.extra.add(name);
  }

  async removeConnector(name: string): Promise<void> {
    this.extra.delete(name);
    await this.remove(name);
  }

  private async remove(name: string | undefined): Promise<void> {
    if (!name) return;
    await fetch(`${this.rest}/connectors/${name}`, { method: 'DELETE' }).catch(() => undefined);
  }

  async startSource(r: Round): Promise<void> {
    const src = new URL(r.sourceUrl);
    const name = `${r.id}-source`;
    await this.create(name, {
      'connector.class': 'io.debezium.connector.postgresql.PostgresConnector',
      'tasks.max': '1',
      'database.hostname': src.hostname,
      'database.port': src.port || '5432',
      'database.user': decodeURIComponent(src.username || 'postgres'),
      'database.password': decodeURIComponent(src.password || 'postgres'),
      'database.dbname': r.sourceDb,
      'topic.prefix': r.topicPrefix,
      'plugin.name': 'pgoutput',
      'slot.name': r.slot,
      'publication.name': r.publication,
      'publication.autocreate.mode': 'filtered',
      'table.include.list': 'public.users',
      'snapshot.mode': r.snapshot ? 'initial' : 'no_data',
      'topic.creation.default.replication.factor': '1',
      'topic.creation.default.partitions': '3',
    });
    this.source = name;
    this.sourceSlot = { url: r.sourceUrl, slot: r.slot };
  }

  async stopSource(): Promise<void> {
    this.peaks.note(this.worker);
    await this.remove(this.source);
    this.source = undefined;
    const s = this.sourceSlot;
    this.sourceSlot = undefined;
    if (!s) return;
    // the task stops asynchronously: wait until it released the slot
    for (let i = 0; i < 150; i++) {
      const active = await withPg(s.url, (c) =>
        c.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND active', [s.slot]),
      ).catch(() => undefined);
      if (!active || active.rowCount === 0) return;
      await new Promise((x) => setTimeout(x, 200));
    }
  }

  async startSink(r: Round): Promise<void> {
    const peer = new URL(r.peerUrl);
    const name = `${r.id}-sink`;
    await this.create(name, {
      'connector.class': 'io.debezium.connector.jdbc.JdbcSinkConnector',
      'tasks.max': '1',
      topics: this.topic(r),
      'connection.url': `jdbc:postgresql://${peer.hostname}:${peer.port || '5432'}/${r.peerDb}`,
      'connection.username': decodeURIComponent(peer.username || 'postgres'),
      'connection.password': decodeURIComponent(peer.password || 'postgres'),
      'insert.mode': 'upsert',
      'delete.enabled': 'true',
      'primary.key.mode': 'record_key',
      'schema.evolution': 'basic',
      'collection.name.format': 'users',
    });
    this.sink = name;
  }

  async stopSink(): Promise<void> {
    this.peaks.note(this.worker);
    await this.remove(this.sink);
    this.sink = undefined;
  }

  processes(): Child[] {
    return this.worker ? [this.worker] : [];
  }

  peakRss(): Record<string, number> {
    this.peaks.note(this.worker);
    return this.peaks.all();
  }

  describe(): string {
    return `Debezium ${this.version} on Kafka Connect ${this.opts.settings.kafkaVersion} standalone (one JVM, -Xmx${this.opts.heapMb ?? 512}m), JSON converter with schemas, connector defaults`;
  }

  async close(): Promise<void> {
    await this.stopSource();
    await this.stopSink();
    this.peaks.note(this.worker);
    await this.worker?.stop('SIGTERM', 30_000);
    this.worker = undefined;
  }
}
