// Our pipeline under test: `pgcdc produce` and `pgcdc consume --target <name>` as child processes
// with a configuration written per round (defaults of the product except names and snapshot mode).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import type { StackUrls } from '../stack/settings.ts';
import { groupFor, KafkaSchema, topicFor } from '../../pipeline/config/schema.ts';
import { parseConfig } from '../../pipeline/config/load.ts';
import { PeakTracker, type PipelineDriver, type Round } from './driver.ts';
import { freePort, spawnPgcdc, type Child } from './proc.ts';

export interface PgcdcDriverOptions {
  urls: StackUrls;
  dir: string;
  /** producer settings to try (default: the product's defaults) */
  producer?: { batchMaxMessages?: number; lingerMs?: number };
  peerBatchSize?: number;
  webhook?: { url: string; secret: string; batchSize: number; concurrency: number };
  /** source.snapshot.batchSize (default: the configuration default) */
  snapshotBatchSize?: number;
  /** write V8 CPU profiles of the children here */
  profileDir?: string;
  /** run the pgcdc of another checkout (the bench's --compare-tree) under this name */
  root?: string;
  name?: string;
  /** the peer target's name (default peer; another name is another consumer group) */
  peerName?: string;
  /** the peer target's applyConnections (default: the configuration default) */
  applyConnections?: number;
  /** the peer target's mapping (docs/shaping.md; the bench's --shaping) */
  peerMapping?: Record<string, unknown>;
  /** source.tables and source.contracts (the bench's --tables 3); default: users alone */
  tables?: readonly string[];
  contracts?: string;
}

export class PgcdcDriver implements PipelineDriver {
  readonly name: string;
  readonly syncedColumn = '_pgcdc_synced_at';
  private source: Child | undefined;
  private sourceMetricsPort: number | undefined;
  private sinks: Child[] = [];
  private sinkMetricsPort: number | undefined;
  private readonly peaks = new PeakTracker();

  constructor(private readonly opts: PgcdcDriverOptions) {
    this.name = opts.name ?? 'pgcdc';
  }

  configFile(r: Round): string {
    const raw = {
      source: {
        url: r.sourceUrl,
        slot: r.slot,
        publication: r.publication,
        ...(this.opts.tables ? { tables: [...this.opts.tables], contracts: this.opts.contracts } : {}),
        snapshot: {
          mode: r.snapshot ? 'initial' : 'never',
          ...(this.opts.snapshotBatchSize ? { batchSize: this.opts.snapshotBatchSize } : {}),
        },
      },
      kafka: { brokers: this.opts.urls.kafkaBrokers, topicPrefix: r.topicPrefix, partitions: 3 },
      registry: { url: this.opts.urls.registryUrl },
      ...(this.opts.producer ? { producer: this.opts.producer } : {}),
      targets: [
        {
          name: this.opts.peerName ?? 'peer',
          type: 'postgres',
          url: r.peerUrl,
          ...(this.opts.peerBatchSize ? { batchSize: this.opts.peerBatchSize } : {}),
          ...(this.opts.applyConnections ? { applyConnections: this.opts.applyConnections } : {}),
          ...(this.opts.peerMapping ? { mapping: this.opts.peerMapping } : {}),
        },
        ...(this.opts.webhook
          ? [
              {
                name: 'hook',
                type: 'webhook',
                url: this.opts.webhook.url,
                secret: this.opts.webhook.secret,
                batchSize: this.opts.webhook.batchSize,
                concurrency: this.opts.webhook.concurrency,
              },
            ]
          : []),
      ],
      metrics: { port: 0 },
      log: { level: 'warn' },
    };
    parseConfig(raw); // fail here, not in a child
    const file = path.join(this.opts.dir, `${r.id}.yaml`);
    writeFileSync(file, stringify(raw));
    return file;
  }

  private kafka(r: Round) {
    return KafkaSchema.parse({ brokers: this.opts.urls.kafkaBrokers, topicPrefix: r.topicPrefix });
  }
  topic(r: Round): string {
    return topicFor(this.kafka(r), { schema: 'public', table: 'users' });
  }
  sinkGroup(r: Round, target = 'peer'): string {
    return groupFor(this.kafka(r), { name: target });
  }

  /** the same pipeline (checkout, settings) with a webhook target `hook` besides the peer */
  withWebhook(webhook: NonNullable<PgcdcDriverOptions['webhook']>): PgcdcDriver {
    return new PgcdcDriver({ ...this.opts, webhook });
  }

  preparePeer(): Promise<void> {
    return Promise.resolve(); // the sink creates its table, with _pgcdc_synced_at
  }

  /** the producer's /metrics while it runs */
  sourceMetricsUrl(): string | undefined {
    return this.sourceMetricsPort ? `http://127.0.0.1:${this.sourceMetricsPort}/metrics` : undefined;
  }

  async startSource(r: Round): Promise<void> {
    this.sourceMetricsPort = await freePort();
    this.source = spawnPgcdc(
      'pgcdc produce',
      ['produce', '--config', this.configFile(r), '--metrics-port', String(this.sourceMetricsPort)],
      this.log(r, 'produce'),
      this.opts.profileDir,
      this.opts.root,
    );
  }

  async stopSource(): Promise<void> {
    this.peaks.note(this.source);
    await this.source?.stop();
    this.source = undefined;
  }

  /** the peer consumer's /metrics while it runs */
  sinkMetricsUrl(): string | undefined {
    return this.sinkMetricsPort ? `http://127.0.0.1:${this.sinkMetricsPort}/metrics` : undefined;
  }

  async startSink(r: Round, target = this.opts.peerName ?? 'peer'): Promise<void> {
    const peer = target === (this.opts.peerName ?? 'peer');
    const name = peer ? 'pgcdc consume' : `pgcdc consume ${target}`;
    const port = await freePort();
    if (peer) this.sinkMetricsPort = port;
    this.sinks.push(
      spawnPgcdc(
        name,
        ['consume', '--target', target, '--config', this.configFile(r), '--metrics-port', String(port)],
        this.log(r, target),
        this.opts.profileDir,
        this.opts.root,
      ),
    );
  }

  async stopSink(): Promise<void> {
    for (const s of this.sinks) this.peaks.note(s);
    await Promise.all(this.sinks.map((s) => s.stop()));
    this.sinks = [];
  }

  processes(): Child[] {
    return [...(this.source ? [this.source] : []), ...this.sinks];
  }

  peakRss(): Record<string, number> {
    for (const c of this.processes()) this.peaks.note(c);
    return this.peaks.all();
  }

  describe(): string {
    const p = this.opts.producer;
    return `pgcdc 0.1.0${this.opts.root ? ` from ${this.opts.root}` : ''} (Node ${process.version}), Avro + schema registry, producer batchMaxMessages=${p?.batchMaxMessages ?? 'default'} lingerMs=${p?.lingerMs ?? 'default'}, peer batchSize=${this.opts.peerBatchSize ?? 'default'}`;
  }

  async close(): Promise<void> {
    await this.stopSource();
    await this.stopSink();
  }

  /** Child output: kept as bench-results/<run>/<round>-<what>.log */
  private log(r: Round, what: string): string {
    return path.join(this.opts.dir, `${r.id}-${what}.log`);
  }
}
