// The exit codes of `pgcdc`, one table for every verb (documented in docs/cli.md, pinned by
// test/unit/cli/exit-codes.test.ts), so scripts can rely on them: 0 done / healthy; 1 failed (with
// the error and its fix on stderr); 2 usage error or a confirmation (--yes) missing, nothing done;
// 3 health check says unhealthy (`status`); 130 a second signal. Pure: no I/O here.
import { ConfigError, PgcdcError } from '../pipeline/errors.ts';

export const EXIT = {
  /** the verb did its job; `status`: the pipeline is healthy; `check`: no ERROR */
  ok: 0,
  /** the verb failed (the error and its fix on stderr), `check` found an ERROR, `dlq redrive` left entries */
  failed: 1,
  /** bad options or arguments, or a verb that skips or deletes data was not confirmed with --yes */
  usage: 2,
  /** `status`: the pipeline is unhealthy (the problems are listed) */
  unhealthy: 3,
  /** `reconcile`: the target does not hold what the source holds (or rows could not be decided) */
  drift: 4,
  /** a second SIGINT/SIGTERM: exited at once (or `snapshot` stopped following on the first) */
  interrupted: 130,
} as const;

export type ExitName = keyof typeof EXIT;

/**
 * The codes each verb can end with (full command path, as typed after `pgcdc`). Every verb can
 * fail (1) and be refused by the parser (2); the rest say what else it means for that verb. A new
 * verb needs a line here and a row in docs/cli.md's table (the unit test names what is missing).
 */
export const VERB_EXITS: Readonly<Record<string, readonly ExitName[]>> = {
  produce: ['ok', 'failed', 'usage', 'interrupted'],
  consume: ['ok', 'failed', 'usage', 'interrupted'],
  run: ['ok', 'failed', 'usage', 'interrupted'],
  'peers run': ['ok', 'failed', 'usage', 'interrupted'],
  status: ['ok', 'failed', 'usage', 'unhealthy'],
  check: ['ok', 'failed', 'usage'],
  replay: ['ok', 'failed', 'usage'],
  snapshot: ['ok', 'failed', 'usage', 'interrupted'],
  'slots list': ['ok', 'failed', 'usage'],
  'slots drop': ['ok', 'failed', 'usage'],
  'dlq list': ['ok', 'failed', 'usage'],
  'dlq show': ['ok', 'failed', 'usage'],
  'dlq redrive': ['ok', 'failed', 'usage'],
  'contract generate': ['ok', 'failed', 'usage'],
  'contract diff': ['ok', 'failed', 'usage'],
  reconcile: ['ok', 'failed', 'usage', 'drift'],
};

/** A command line that is well-formed but says something impossible (a bad --to, --offset): exit 2. */
export class UsageError extends ConfigError {}

/** A verb that skips or deletes data, not confirmed (no --yes, not on a terminal, or answered no): exit 2. */
export class NotConfirmedError extends UsageError {}

/** The exit code of a verb that threw: usage errors 2, everything else 1. */
export function exitCodeOf(err: unknown): number {
  return err instanceof UsageError ? EXIT.usage : EXIT.failed;
}

/** Runs a parser of an option's value; what it refuses becomes a UsageError (exit 2), same words. */
export function asUsage<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof PgcdcError && !(err instanceof UsageError))
      throw new UsageError(err.message, { ...(err.hint ? { hint: err.hint } : {}), cause: err });
    throw err;
  }
}
