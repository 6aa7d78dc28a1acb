// What the parts of `pgcdc-dev demo` share: its voice (`say`, secrets redacted), a client helper,
// a deadline-bound wait, the stop signal, and the shapes passed between the steps (setup,
// running pipeline, and `DemoPart`, the interface a further part of the demo implements to be
// hooked in by one call: MariaDB peer, shaped peers, peers, reconcile report) and what such a
// part shares: the reset of its target and the wait for its comparison.
import pg from 'pg';
import type { App, serveMetrics, startConsumer, startProducer } from '../../../pipeline/compose.ts';
import {
  dlqTopicFor,
  groupFor,
  type Config,
  type PostgresTargetConfig,
} from '../../../pipeline/config/schema.ts';
import type { TableContract } from '../../../schemas/contract.ts';
import { redactSecrets } from '../../redact.ts';
import type { DemoReceiver } from './demo-webhook.ts';

export const say = (msg: string): void => console.log(`demo: ${redactSecrets(msg)}`);

export async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** Polls `check` every 200 ms until it holds; throws after `timeoutMs`. */
export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 120_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Resolves with the first SIGINT (Ctrl-C) or SIGTERM (a supervisor, `kill`), whichever comes. */
export function stopSignal(proc: Pick<NodeJS.Process, 'once' | 'off'>): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (sig: NodeJS.Signals) => () => {
      proc.off('SIGINT', onInt);
      proc.off('SIGTERM', onTerm);
      resolve(sig);
    };
    const onInt = on('SIGINT');
    const onTerm = on('SIGTERM');
    proc.once('SIGINT', onInt);
    proc.once('SIGTERM', onTerm);
  });
}

/** What the demo runs against: the local config, its Postgres peer target and the optional webhook. */
export interface DemoSetup {
  config: Config;
  target: PostgresTargetConfig;
  hook: DemoReceiver | undefined;
  app: App;
  /** one change topic per table */
  topics: string[];
  contract: TableContract;
}

export type Consumer = Awaited<ReturnType<typeof startConsumer>>;

/** The running pipeline: the producer, the peer target's consumer, the webhook's, the metrics server. */
export interface DemoPipeline {
  producer: ReturnType<typeof startProducer>['producer'];
  done: ReturnType<typeof startProducer>['done'];
  consumer: Consumer;
  hookConsumer: Consumer | undefined;
  server: Awaited<ReturnType<typeof serveMetrics>> | undefined;
}

/**
 * A further part of the demo, beside the Postgres peer: started once the pipeline streams,
 * checked after the peer's comparison (says what it found, returns whether all is well), stopped
 * before the pipeline stops.
 */
export interface DemoPart {
  check(say: (m: string) => void): Promise<boolean>;
  stop(): Promise<void>;
}

/** The bookkeeping tables a database sink keeps beside its table (links: a matched target's). */
const BOOKKEEPING = ['_pgcdc_links', '_pgcdc_deleted', '_pgcdc_truncated'];

/**
 * Drops what an earlier demo left for a further target: its table and the bookkeeping beside it
 * (through `drop`, one call per table name, in the target's own SQL), its consumer group and its
 * dead-letter topic, so the part starts from nothing as the Postgres peer does.
 */
export async function resetDemoTarget(
  app: App,
  target: { name: string; table: string; dlqTopic?: string | undefined },
  drop: (table: string) => Promise<unknown>,
): Promise<void> {
  for (const t of [target.table, ...BOOKKEEPING.map((s) => target.table + s)]) await drop(t);
  const admin = app.kafka.admin();
  const groups = app.kafka.groupAdmin();
  await Promise.all([admin.connect(), groups.connect()]);
  try {
    await admin.deleteTopic(dlqTopicFor(app.config.kafka, target));
    await groups.deleteGroup(groupFor(app.config.kafka, target)).catch(() => undefined);
  } finally {
    await admin.disconnect();
    await groups.disconnect();
  }
}

/** Compares every 300 ms until `equal` or the deadline (120 s); the last comparison. */
export async function compareUntilEqual<R extends { equal: boolean }>(
  compare: () => Promise<R>,
  timeoutMs = 120_000,
): Promise<R> {
  const deadline = Date.now() + timeoutMs;
  let r = await compare();
  while (!r.equal && Date.now() < deadline) {
    await new Promise((res) => setTimeout(res, 300));
    r = await compare();
  }
  return r;
}
