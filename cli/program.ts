// Runs a commander program as a process: parse, report an error in one line, exit. Shared by the
// operator's `pgcdc` (cli/main.ts) and the development tooling's `pgcdc-dev` (dev/cli/main.ts).
import { CommanderError, type Command } from 'commander';
import { describeError } from '../pipeline/errors.ts';
import { EXIT, exitCodeOf } from './exit-codes.ts';

export async function runProgram(program: Command, name: string): Promise<never> {
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version exit 0; every parse error (unknown option, missing argument) is a usage error
      process.exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    } else {
      console.error(`${name}: ${describeError(err)}`);
      process.exitCode = exitCodeOf(err);
    }
  }
  // Every verb has finished its work (long-running ones after a signal): do not wait for idle sockets.
  process.exit(process.exitCode ?? 0);
}
