// `pgcdc stack up|down|status`: the local development stack (dev/stack).
import type { Command } from 'commander';
import { stackSettingsFromEnv, type StackUrls } from '../../stack/settings.ts';
import { stackDown, stackStatus, stackUp } from '../../stack/stack.ts';
import { redactSecrets } from '../../redact.ts';

/** What `stack up` prints: the URLs to connect to, passwords masked. */
export function stackUrlLines(urls: StackUrls): string[] {
  return [
    `postgres (source): ${urls.sourceUrl}`,
    `postgres (peer):   ${urls.peerUrl}`,
    `kafka:             ${urls.kafkaBrokers.join(',')}`,
    `schema registry:   ${urls.registryUrl}`,
    `mariadb (peer):    ${urls.mysqlPeerUrl}`,
  ].map(redactSecrets);
}

export function registerStackCommands(program: Command): void {
  const stack = program
    .command('stack')
    .description(
      'Install and run the local stack: PostgreSQL (logical), Kafka (KRaft), a schema registry and MariaDB',
    )
    .addHelpText(
      'after',
      '\nPorts and folders come from PGCDC_STACK_PG_PORT, PGCDC_STACK_KAFKA_PORT, PGCDC_STACK_KAFKA_CONTROLLER_PORT,\n' +
        'PGCDC_STACK_REGISTRY_PORT, PGCDC_STACK_MARIADB_PORT, PGCDC_STACK_STATE_DIR and PGCDC_STACK_CACHE_DIR.',
    );

  stack
    .command('up')
    .description('install what is missing, start every part (reusing parts already running), print URLs')
    .option('--json', 'print the URLs as JSON')
    .action(async (opts: { json?: boolean }) => {
      const s = stackSettingsFromEnv(process.env);
      const { urls, started } = await stackUp(s, (m) => console.error(`stack: ${redactSecrets(m)}`));
      if (opts.json) {
        console.log(redactSecrets(JSON.stringify({ ...urls, started }, null, 2)));
        return;
      }
      for (const line of stackUrlLines(urls)) console.log(line);
      console.log(`state: ${s.stateDir}   cache: ${s.cacheDir}`);
    });

  stack
    .command('down')
    .description('stop every part of the stack (by the pid it recorded); data is kept')
    .action(async () => {
      await stackDown(stackSettingsFromEnv(process.env));
      console.log('stack stopped');
    });

  stack
    .command('status')
    .description('show each part: running, ready, pid, URL, log file')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }) => {
      const st = await stackStatus(stackSettingsFromEnv(process.env));
      if (opts.json) {
        console.log(redactSecrets(JSON.stringify(st, null, 2)));
        return;
      }
      for (const [name, c] of Object.entries(st)) {
        const state = c.ready ? 'ready' : c.running ? 'running (not ready)' : 'stopped';
        console.log(
          redactSecrets(`${name.padEnd(9)} ${state.padEnd(20)} pid=${c.pid ?? '-'}  ${c.url}  log=${c.log}`),
        );
      }
      if (!Object.values(st).every((c) => c.ready)) process.exitCode = 3;
    });
}
