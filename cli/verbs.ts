// Every verb of `pgcdc`, assembled into one commander program (run by cli/main.ts; walked by the
// unit tests that pin the CLI's conventions: --json, --yes/--dry-run, the exit-code table). Each
// verb's --help ends with its exit codes (cli/exit-codes.ts VERB_EXITS).
import { Command } from 'commander';
import { registerCheckCommand } from './commands/check.ts';
import { registerContractCommands } from './commands/contract.ts';
import { registerDlqCommands } from './commands/dlq.ts';
import { registerPeersCommands } from './commands/peers.ts';
import { registerPipelineCommands } from './commands/pipeline.ts';
import { registerReconcileCommand } from './commands/reconcile.ts';
import { registerReplayCommand } from './commands/replay.ts';
import { registerSlotsCommands } from './commands/slots.ts';
import { registerSnapshotCommand } from './commands/snapshot.ts';
import { registerStatusCommand } from './commands/status.ts';
import { EXIT, VERB_EXITS } from './exit-codes.ts';

const MEANING: Record<keyof typeof EXIT, string> = {
  ok: 'done',
  failed: 'failed (the error and its fix on stderr)',
  usage: 'usage error or not confirmed; nothing done',
  unhealthy: 'unhealthy',
  drift: 'drift found (or rows undecided)',
  interrupted: 'interrupted',
};

/** The verbs (leaf commands) of a program, each with its path as typed: `dlq list`, `status`. */
export function verbsOf(program: Command): { path: string; command: Command }[] {
  const walk = (c: Command, prefix: string): { path: string; command: Command }[] =>
    c.commands.flatMap((sub) => {
      const p = prefix ? `${prefix} ${sub.name()}` : sub.name();
      return sub.commands.length ? walk(sub, p) : [{ path: p, command: sub }];
    });
  return walk(program, '');
}

export function buildProgram(): Command {
  const program = new Command('pgcdc')
    .description(
      'Change-data-capture: Postgres `users` -> Avro events on Kafka -> peer databases and webhooks',
    )
    .version('0.1.0')
    .showHelpAfterError()
    .exitOverride();
  registerPipelineCommands(program);
  registerDlqCommands(program);
  registerSnapshotCommand(program);
  registerStatusCommand(program);
  registerReplayCommand(program);
  registerReconcileCommand(program);
  registerCheckCommand(program);
  registerContractCommands(program);
  registerSlotsCommands(program);
  registerPeersCommands(program);
  for (const { path, command } of verbsOf(program)) {
    const codes = VERB_EXITS[path];
    if (!codes) continue; // test/unit/cli/exit-codes.test.ts names the verb that lacks its line
    command.addHelpText(
      'after',
      `\nExit codes: ${codes.map((c) => `${EXIT[c]} ${MEANING[c]}`).join('; ')} (docs/cli.md)`,
    );
  }
  return program;
}
