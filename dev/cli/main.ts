// `pgcdc-dev` (npm run stack|demo|bench): development tooling, kept out of the operator's CLI
// and the container image. The local stack of real servers, the demo on it, the benchmark, and
// the generated documentation (docs).
import { Command } from 'commander';
import { runProgram } from '../../cli/program.ts';
import { registerBenchCommand } from './commands/bench.ts';
import { registerPeersBenchCommand } from './commands/bench-peers.ts';
import { registerDemoCommand } from './commands/demo.ts';
import { registerDocsCommand } from './commands/docs.ts';
import { registerStackCommands } from './commands/stack.ts';

export function buildDevProgram(): Command {
  const program = new Command('pgcdc-dev')
    .description('pgcdc development tooling: the local stack, the demo on it, the benchmark')
    .version('0.1.0')
    .showHelpAfterError()
    .exitOverride();
  registerStackCommands(program);
  registerDemoCommand(program);
  registerBenchCommand(program);
  registerPeersBenchCommand(program);
  registerDocsCommand(program);
  return program;
}

await runProgram(buildDevProgram(), 'pgcdc-dev');
