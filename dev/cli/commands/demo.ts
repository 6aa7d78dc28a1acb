// `pgcdc demo` (npm run demo): the main job on the local stack, end to end. Starts the stack,
// resets the demo's slot/topics/tables, runs the producer and the Postgres peer target, seeds
// users, groups and memberships (several tables in one pipeline, docs/tables.md), makes live
// inserts/updates/deletes, shows them arriving, and compares peer and source table by table.
import type { Command } from 'commander';
import pg from 'pg';
import { forgetPosition } from '../../../producers/postgres/position.ts';
import { LOCAL_CONFIG, stackSettingsFromEnv } from '../../stack/settings.ts';
import { createUsersTable, stackDown, stackUp } from '../../stack/stack.ts';
import { loadContract, type TableContract } from '../../../schemas/contract.ts';
import {
  createApp,
  startConsumer,
  startProducer,
  serveMetrics,
  type App,
} from '../../../pipeline/compose.ts';
import { loadConfigFile } from '../../../pipeline/config/load.ts';
import {
  dlqTopicFor,
  groupFor,
  sourceTopicsOf,
  type Config,
  type PostgresTargetConfig,
} from '../../../pipeline/config/schema.ts';
import { createLogger } from '../../../pipeline/observability/logger.ts';
import { compareTables, describeComparison } from '../../verify/compare.ts';
import {
  compareFixtureTables,
  createFixtureTables,
  FIXTURE_TABLES,
  fixtureContractDir,
} from '../../tables/index.ts';
import { insertUsers, makeUser, rng } from '../../verify/seed.ts';
import { redactSecrets } from '../../redact.ts';
import { useColour } from '../../../cli/colour.ts';
import { startDemoReceiver, type DemoReceiver } from './demo-webhook.ts';
import { addMysqlDemoTarget, resetMysqlDemo, startMysqlDemo } from './demo-mysql.ts';

interface DemoOpts {
  rows: string;
  keepRunning?: boolean;
  keepStack?: boolean;
  webhook?: boolean;
  mysql?: boolean;
  logLevel?: string;
}

const say = (msg: string) => console.log(`demo: ${redactSecrets(msg)}`);

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** What the demo runs against: the local config, its Postgres peer target and the optional webhook. */
interface DemoSetup {
  config: Config;
  target: PostgresTargetConfig;
  hook: DemoReceiver | undefined;
  app: App;
  /** one change topic per table */
  topics: string[];
  contract: TableContract;
}

type Consumer = Awaited<ReturnType<typeof startConsumer>>;

/** The running pipeline: the producer, the peer target's consumer, the webhook's, the metrics server. */
interface DemoPipeline {
  producer: ReturnType<typeof startProducer>['producer'];
  done: ReturnType<typeof startProducer>['done'];
  consumer: Consumer;
  hookConsumer: Consumer | undefined;
  server: Awaited<ReturnType<typeof serveMetrics>> | undefined;
}

/** Drops what an earlier demo left: slot, position, publication, tables, topics, consumer groups. */
async function resetDemo({ config, target, hook, app, topics }: DemoSetup): Promise<void> {
  say('resetting the demo: slot, publication, topics, consumer group, source and peer tables');
  await withClient(config.source.url, async (c) => {
    await c.query(
      'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active',
      [config.source.slot],
    );
    await forgetPosition(c, config.source.position, config.source.slot); // the slot is gone on purpose
    await c.query(`DROP PUBLICATION IF EXISTS ${pg.escapeIdentifier(config.source.publication)}`);
    await c.query('DROP TABLE IF EXISTS public.memberships, public.groups, public.users');
  });
  await createUsersTable(config.source.url);
  await createFixtureTables(config.source.url);
  // the peer has each table under its source name (docs/tables.md), bookkeeping tables beside
  await withClient(target.url, async (c) => {
    for (const name of FIXTURE_TABLES) {
      const [schema, table] = name.split('.') as [string, string];
      for (const suffix of ['', '_pgcdc_deleted', '_pgcdc_truncated'])
        await c.query(
          `DROP TABLE IF EXISTS ${pg.escapeIdentifier(schema)}.${pg.escapeIdentifier(table + suffix)}`,
        );
    }
  });
  const admin = app.kafka.admin();
  const groups = app.kafka.groupAdmin();
  await Promise.all([admin.connect(), groups.connect()]);
  try {
    // Deleting the topic also drops the group's offsets for it; deleting the group is
    // refused while a killed earlier demo's member has not timed out, which is harmless.
    for (const topic of topics) await admin.deleteTopic(topic);
    await admin.deleteTopic(dlqTopicFor(config.kafka, target));
    await groups.deleteGroup(groupFor(config.kafka, target)).catch(() => undefined);
    if (hook) await admin.deleteTopic(dlqTopicFor(config.kafka, hook.target));
    if (hook) await groups.deleteGroup(groupFor(config.kafka, hook.target)).catch(() => undefined);
  } finally {
    await admin.disconnect();
    await groups.disconnect();
  }
}

/** Starts the producer (waits until it streams), the targets' consumers and the metrics server. */
async function startPipeline({ config, target, hook, app, topics }: DemoSetup): Promise<DemoPipeline> {
  say(
    `running the producer (slot ${config.source.slot} -> topics ${topics.join(', ')}) and target "${target.name}" (${target.url.replace(/\/\/.*@/, '//')})`,
  );
  const { producer, done } = startProducer(app);
  await waitFor('the producer to stream', () => Promise.resolve(producer.state().running));
  const consumer = await startConsumer(app, target.name);
  const hookConsumer = hook ? await startConsumer(app, hook.target.name) : undefined;
  const server = await serveMetrics(app.metrics, app.config.metrics, () => ({
    ok: true,
    detail: {},
  })).catch(() => undefined);
  if (server) say(`metrics on http://${config.metrics.host}:${config.metrics.port}/metrics`);
  return { producer, done, consumer, hookConsumer, server };
}

/** Seeds `n` users in one transaction. */
async function seedUsers(url: string, r: ReturnType<typeof rng>, n: number): Promise<void> {
  const ids = await withClient(url, async (c) => {
    await c.query('BEGIN');
    const inserted = await insertUsers(
      c,
      Array.from({ length: n }, (_, i) => makeUser(r, i, { tag: 'seed' })),
    );
    await c.query('COMMIT');
    return inserted;
  });
  say(`seeded ${ids.length} users in one transaction`);
  const { groups, memberships } = await withClient(url, async (c) => {
    const g = await c.query(
      "INSERT INTO groups (name, description, tags) SELECT 'group ' || i, CASE WHEN i % 3 = 0 THEN 'team ' || i END, ARRAY['g' || (i % 5)] FROM generate_series(1, greatest($1::int / 50, 5)) i",
      [n],
    );
    const m = await c.query(
      "INSERT INTO memberships (user_id, group_id, role) SELECT u.id, g.id, CASE WHEN (u.id + g.id) % 10 = 0 THEN 'admin' ELSE 'member' END FROM users u JOIN groups g ON (u.id * 7 + g.id) % 13 = 0",
    );
    return { groups: g.rowCount ?? 0, memberships: m.rowCount ?? 0 };
  });
  say(`seeded ${groups} groups and ${memberships} memberships (key user_id, group_id)`);
}

/** Live inserts, updates (TOAST-preserving, bulk, an email swap) and deletes on the source. */
async function liveChanges(url: string, r: ReturnType<typeof rng>): Promise<void> {
  const counts = { inserts: 0, updates: 0, deletes: 0 };
  await withClient(url, async (c) => {
    const live = Array.from({ length: 200 }, (_, i) => makeUser(r, i, { tag: 'live' }));
    for (const row of live) {
      await insertUsers(c, [row]);
      counts.inserts++;
    }
    const big = await c.query<{ id: string }>(
      'SELECT id::text FROM users WHERE length(bio) > 2000 ORDER BY id LIMIT 20',
    );
    for (const row of big.rows) {
      // Only a non-TOAST column changes: PostgreSQL does not resend the large bio.
      await c.query('UPDATE users SET city = $2, updated_at = now() WHERE id = $1', [row.id, 'Reykjavík']);
      counts.updates++;
    }
    const upd = await c.query(
      'UPDATE users SET balance = balance + 1.50, last_login_at = now(), tags = array_append(tags, $1) WHERE id % 7 = 0',
      ['seen'],
    );
    counts.updates += upd.rowCount ?? 0;
    const swap = await c.query<{ a: string; b: string }>(
      "SELECT min(id)::text AS a, max(id)::text AS b FROM users WHERE email LIKE '%seed%'",
    );
    const { a, b } = swap.rows[0]!;
    // Two users swap emails in one transaction (a unique secondary key across partitions).
    const ea = (await c.query<{ email: string }>('SELECT email FROM users WHERE id = $1', [a])).rows[0]!
      .email;
    const eb = (await c.query<{ email: string }>('SELECT email FROM users WHERE id = $1', [b])).rows[0]!
      .email;
    await c.query('BEGIN');
    await c.query("UPDATE users SET email = 'swapping-' || id WHERE id = $1", [a]);
    await c.query('UPDATE users SET email = $2 WHERE id = $1', [b, ea]);
    await c.query('UPDATE users SET email = $2 WHERE id = $1', [a, eb]);
    await c.query('COMMIT');
    counts.updates += 3;
    const del = await c.query('DELETE FROM users WHERE id % 11 = 0'); // cascades to memberships
    counts.deletes += del.rowCount ?? 0;
    // the tables around users: roles change, a membership moves to another group (its key
    // changes), a group goes (with its memberships), a new group gets members
    const roles = await c.query(
      "UPDATE memberships SET role = 'owner', note = 'promoted' WHERE user_id % 17 = 0",
    );
    counts.updates += roles.rowCount ?? 0;
    const moved = await c.query(
      'UPDATE memberships m SET group_id = (SELECT max(id) FROM groups) WHERE (user_id, group_id) IN (SELECT user_id, group_id FROM memberships WHERE user_id % 19 = 0 ORDER BY 1, 2 LIMIT 1) AND NOT EXISTS (SELECT 1 FROM memberships x WHERE x.user_id = m.user_id AND x.group_id = (SELECT max(id) FROM groups))',
    );
    counts.updates += moved.rowCount ?? 0;
    const gone = await c.query('DELETE FROM groups WHERE id = (SELECT min(id) FROM groups)');
    counts.deletes += gone.rowCount ?? 0;
    await c.query("INSERT INTO groups (name) VALUES ('late joiners')");
    const joined = await c.query(
      "INSERT INTO memberships (user_id, group_id) SELECT id, (SELECT id FROM groups WHERE name = 'late joiners') FROM users WHERE id % 23 = 0",
    );
    counts.inserts += joined.rowCount ?? 0;
  });
  say(`live changes: ${counts.inserts} inserts, ${counts.updates} updates, ${counts.deletes} deletes`);
}

/**
 * Waits until the peer equals the source, measures single-row latency with 20 probes, compares
 * once more and (with --webhook) checks the receiver's findings. Returns whether all is well.
 */
async function waitAndCompare(
  { config, target, hook, contract }: DemoSetup,
  { consumer, hookConsumer }: DemoPipeline,
  r: ReturnType<typeof rng>,
  t0: number,
): Promise<boolean> {
  const columns = contract.columns;
  const src = { url: config.source.url, schema: 'public', table: 'users' };
  const dst = { url: target.url, schema: target.schema, table: target.table };
  let last = Date.now();
  const allEqual = async () =>
    Object.values(await compareFixtureTables(config.source.url, target.url, config.source.contracts!)).every(
      (r) => r.equal,
    );
  await waitFor('the peer to catch up', async () => {
    const st = consumer.status();
    if (Date.now() - last > 2000) {
      last = Date.now();
      say(`... applied ${st.applied} events so far (${st.state}${st.lastError ? `: ${st.lastError}` : ''})`);
    }
    return allEqual();
  });
  const elapsed = (Date.now() - t0) / 1000;
  const st = consumer.status();
  say(
    `target "${target.name}": ${st.applied} events applied, ${st.deadLettered} dead-lettered, in ${elapsed.toFixed(1)} s`,
  );
  // Latency of single-row changes while the pipeline is idle: 20 probe inserts, one at a time.
  const probes = await withClient(config.source.url, async (c) => {
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      ids.push(...(await insertUsers(c, [makeUser(r, i, { tag: 'probe' })])));
      await new Promise((res) => setTimeout(res, 50));
    }
    return ids;
  });
  await waitFor('the probes to arrive', async () => (await compareTables(src, dst, columns)).equal);
  const lat = await withClient(target.url, (c) =>
    c.query<{ p50: number; p99: number; max: number }>(
      `SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)) AS p50, round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)) AS p99, round(max(ms)) AS max
         FROM (SELECT extract(epoch FROM _pgcdc_synced_at - created_at) * 1000 AS ms FROM users WHERE id = ANY ($1::bigint[])) x`,
      [probes],
    ),
  );
  const l = lat.rows[0]!;
  say(
    `end-to-end latency of single-row changes (commit -> applied at the peer): p50 ${l.p50} ms, p99 ${l.p99} ms, max ${l.max} ms`,
  );
  const results = await compareFixtureTables(config.source.url, target.url, config.source.contracts!);
  let ok = Object.values(results).every((r) => r.equal);
  console.log('');
  for (const [table, result] of Object.entries(results))
    console.log(`${table}: ${describeComparison(result)}`);
  console.log('');
  if (hook && hookConsumer) {
    const done = (c: Consumer) => c.status().applied + c.status().deadLettered;
    await waitFor('the webhook to catch up', () => Promise.resolve(done(hookConsumer) >= done(consumer)));
    const h = hook.stats();
    const hs = hookConsumer.status();
    say(
      `webhook "${hook.target.name}" (${hook.target.url}): ${h.events} events for ${h.users} users in ${h.requests} requests, ${hs.deadLettered} dead-lettered, ${h.badSignatures} bad signatures, ${h.outOfOrder} out of order`,
    );
    ok = ok && h.badSignatures === 0 && h.outOfOrder === 0 && hs.deadLettered === 0;
  }
  return ok;
}

/** Stops the producer (and waits for its run to end), the consumers, the receiver, the metrics server. */
async function stopPipeline(p: DemoPipeline, hook: DemoReceiver | undefined): Promise<void> {
  await p.producer.stop();
  await p.done;
  await p.consumer.stop();
  await p.hookConsumer?.stop();
  await hook?.close();
  p.server?.close();
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

async function runDemo(opts: DemoOpts): Promise<void> {
  const settings = stackSettingsFromEnv(process.env);
  say('starting the local stack (first run downloads Kafka and the registry) ...');
  const up = await stackUp(settings, (m) => say(m));
  const loaded = loadConfigFile(LOCAL_CONFIG, process.env);
  // users, groups and memberships in one pipeline; their contracts in a demo contract directory
  const config: Config = {
    ...loaded,
    source: { ...loaded.source, tables: [...FIXTURE_TABLES], contracts: fixtureContractDir() },
  };
  const target = config.targets[0] as PostgresTargetConfig;
  const hook = opts.webhook ? await startDemoReceiver() : undefined;
  // the receiver checks the order per user: it takes the users table only
  if (hook) config.targets.push({ ...hook.target, tables: ['public.users'] });
  const maria = opts.mysql === false ? undefined : addMysqlDemoTarget(config, up.urls);
  const logger = createLogger({
    level: opts.logLevel ?? 'warn',
    pretty: true,
    colour: useColour(process.env, process.stderr.isTTY),
  });
  const setup: DemoSetup = {
    config,
    target,
    hook,
    app: createApp(config, logger),
    topics: sourceTopicsOf(config.kafka, config.source),
    contract: loadContract(),
  };
  let ok = false;
  try {
    await resetDemo(setup);
    if (maria) await resetMysqlDemo(setup.app, maria);
    const pipeline = await startPipeline(setup);
    const mariaPeer = maria && (await startMysqlDemo(setup.app, maria, setup.contract));
    const r = rng(42);
    const t0 = Date.now();
    await seedUsers(config.source.url, r, Number(opts.rows));
    await liveChanges(config.source.url, r);
    ok = await waitAndCompare(setup, pipeline, r, t0);
    if (mariaPeer) ok = (await mariaPeer.check(say)) && ok;
    if (opts.keepRunning) {
      say(
        'pipeline keeps running (Ctrl-C or SIGTERM stops it); make changes with: psql ' + config.source.url,
      );
      say(`${await stopSignal(process)}: stopping the pipeline`);
    }
    await mariaPeer?.stop();
    await stopPipeline(pipeline, hook);
  } finally {
    if (!opts.keepStack && up.started.length > 0) {
      say(`stopping the stack parts this demo started: ${up.started.join(', ')}`);
      await stackDown(settings, up.started);
    }
  }
  if (!ok) process.exitCode = 1;
}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description(
      'run the pipeline on the local stack: users, groups and memberships seeded, live changes, peer compared with source table by table',
    )
    .option('--rows <n>', 'users to seed', '3000')
    .option(
      '--keep-running',
      'keep the pipeline (and stack) running after the comparison, until Ctrl-C or SIGTERM (then both stop, the stack unless --keep-stack)',
    )
    .option('--keep-stack', 'leave the local stack running at the end')
    .option(
      '--webhook',
      'also deliver every change to a webhook target (a signature-checking receiver in the demo)',
    )
    .option('--no-mysql', "do not sync the stack's MariaDB peer (target maria) beside the Postgres peer")
    .option('--log-level <level>', 'pipeline log level', 'warn')
    .action(runDemo);
}
