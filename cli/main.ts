#!/usr/bin/env node
// `pgcdc` command line: the operator's verbs (pipeline processes, snapshot, dlq, status, replay,
// check, slots, contract). Each verb gets its wiring from the composition root (pipeline/compose.ts). Every
// verb has --help. Development tooling (stack, demo, bench) is `pgcdc-dev` (dev/cli/main.ts).
import { Command } from 'commander';
import { registerCheckCommand } from './commands/check.ts';
import { registerContractCommands } from './commands/contract.ts';
import { registerDlqCommands } from './commands/dlq.ts';
import { registerPeersCommands } from './commands/peers.ts';
import { registerPipelineCommands } from './commands/pipeline.ts';
import { registerReplayCommand } from './commands/replay.ts';
import { registerSlotsCommands } from './commands/slots.ts';
import { registerSnapshotCommand } from './commands/snapshot.ts';
import { registerStatusCommand } from './commands/status.ts';
import { runProgram } from './program.ts';

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
  registerCheckCommand(program);
  registerContractCommands(program);
  registerSlotsCommands(program);
  registerPeersCommands(program);
  return program;
}

await runProgram(buildProgram(), 'pgcdc');
