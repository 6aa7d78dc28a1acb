// `pgcdc demo` (npm run demo): the main job on the local stack, end to end. Starts the stack,
// resets the demo's slot/topics/tables, runs the producer and the Postgres peer target, seeds
// users, groups and memberships (several tables in one pipeline, docs/tables.md), makes live
// inserts/updates/deletes, shows them arriving, and compares peer and source table by table
// (and a differently shaped peer, target "cms", with SQL of the source: demo-shaping.ts).
// The steps live beside this file (demo-pipeline, demo-workload, demo-compare); further parts
// (MariaDB peer, shaped peers, ...) are `DemoPart`s, each hooked in below by one call.
import type { Command } from 'commander';
import { LOCAL_CONFIG, stackSettingsFromEnv } from '../../stack/settings.ts';
import { stackDown, stackUp } from '../../stack/stack.ts';
import { loadContract } from '../../../schemas/contract.ts';
import { createApp } from '../../../pipeline/compose.ts';
import { loadConfigFile } from '../../../pipeline/config/load.ts';
import { sourceTopicsOf, type Config, type PostgresTargetConfig } from '../../../pipeline/config/schema.ts';
import { createLogger } from '../../../pipeline/observability/logger.ts';
import { FIXTURE_TABLES, fixtureContractDir } from '../../tables/index.ts';
import { rng } from '../../verify/seed.ts';
import { useColour } from '../../../cli/colour.ts';
import { startDemoReceiver } from './demo-webhook.ts';
import { runPeersDemo } from './demo-peers.ts';
import { addMysqlDemoTarget, resetMysqlDemo, startMysqlDemo } from './demo-mysql.ts';
import { resetDemo, startPipeline, stopPipeline } from './demo-pipeline.ts';
import { liveChanges, seedUsers } from './demo-workload.ts';
import { waitAndCompare } from './demo-compare.ts';
import { reconcileDemo } from './demo-reconcile.ts';
import { addShapedDemoTarget, resetShapedDemo, startShapedDemo } from './demo-shaping.ts';
import { say, stopSignal, type DemoPart, type DemoSetup } from './demo-support.ts';

export { stopSignal } from './demo-support.ts';

interface DemoOpts {
  rows: string;
  keepRunning?: boolean;
  keepStack?: boolean;
  webhook?: boolean;
  mysql?: boolean;
  logLevel?: string;
  peers?: string;
}

async function runDemo(opts: DemoOpts): Promise<void> {
  if (opts.peers) return runPeersDemo({ ...opts, peers: opts.peers }); // docs/peers.md
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
  const cms = addShapedDemoTarget(config, target.url); // the differently shaped peer (docs/shaping.md)
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
    await resetShapedDemo(setup.app, cms);
    const pipeline = await startPipeline(setup);
    // further parts of the demo, started once the pipeline streams: one call each
    const parts: DemoPart[] = [];
    if (maria) parts.push(await startMysqlDemo(setup.app, maria, setup.contract));
    parts.push(await startShapedDemo(setup.app, cms));
    // every database target the demo syncs ends with a reconcile report of zero drift
    parts.push(reconcileDemo(setup.app, [target.name, ...(maria ? [maria.name] : []), cms.name]));
    const r = rng(42);
    const t0 = Date.now();
    await seedUsers(config.source.url, r, Number(opts.rows));
    await liveChanges(config.source.url, r);
    ok = await waitAndCompare(setup, pipeline, r, t0);
    for (const part of parts) ok = (await part.check(say)) && ok;
    if (opts.keepRunning) {
      say(
        'pipeline keeps running (Ctrl-C or SIGTERM stops it); make changes with: psql ' + config.source.url,
      );
      say(`${await stopSignal(process)}: stopping the pipeline`);
    }
    for (const part of parts) await part.stop();
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
      'run the pipeline on the local stack: users, groups and memberships seeded, live changes, peer compared with source table by table, a CMS-shaped peer (docs/shaping.md) with SQL of the source',
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
    .option(
      '--peers <n>',
      'instead: n installations (2-8) converging under conflicting writes (docs/peers.md)',
    )
    .action(runDemo);
}
