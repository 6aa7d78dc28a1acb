// `pgcdc` command line: one composition root per verb. Every verb has --help.
import { Command, CommanderError } from 'commander';
import { describeError } from '../errors/errors.ts';
import { registerBenchCommand } from './commands/bench.ts';
import { registerCheckCommand } from './commands/check.ts';
import { registerDemoCommand } from './commands/demo.ts';
import { registerDlqCommands } from './commands/dlq.ts';
import { registerPipelineCommands } from './commands/pipeline.ts';
import { registerReplayCommand } from './commands/replay.ts';
import { registerSlotsCommands } from './commands/slots.ts';
import { registerSnapshotCommand } from './commands/snapshot.ts';
import { registerStackCommands } from './commands/stack.ts';
import { registerStatusCommand } from './commands/status.ts';

export function buildProgram(): Command {
  const program = new Command('pgcdc')
    .description(
      'Change-data-capture: Postgres `users` -> Avro events on Kafka -> peer databases and webhooks',
    )
    .version('0.1.0')
    .showHelpAfterError()
    .exitOverride();
  registerStackCommands(program);
  registerPipelineCommands(program);
  registerDemoCommand(program);
  registerDlqCommands(program);
  registerSnapshotCommand(program);
  registerStatusCommand(program);
  registerReplayCommand(program);
  registerCheckCommand(program);
  registerSlotsCommands(program);
  registerBenchCommand(program);
  return program;
}

async function main(): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode;
      return;
    }
    console.error(`pgcdc: ${describeError(err)}`);
    process.exitCode = 1;
  }
}

await main();
// Every verb has finished its work (long-running ones after a signal): do not wait for idle sockets.
process.exit(process.exitCode ?? 0);
