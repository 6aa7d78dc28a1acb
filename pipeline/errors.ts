// Error hierarchy: every error we raise says what failed, whether retrying can help, and what to do.
import { scrubSecrets } from './observability/secrets.ts';

export class PgcdcError extends Error {
  readonly retriable: boolean;
  readonly hint: string | undefined;
  constructor(message: string, opts: { retriable?: boolean; hint?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.retriable = opts.retriable ?? false;
    this.hint = opts.hint;
  }
}

/** Bad configuration or environment: retrying will not help, the operator must fix something. */
export class ConfigError extends PgcdcError {}

/** A local stack component failed to install or start. */
export class StackError extends PgcdcError {}

/** A dependency (Kafka, registry, database) is unavailable for now. */
export class UnavailableError extends PgcdcError {
  constructor(message: string, opts: { hint?: string; cause?: unknown } = {}) {
    super(message, { ...opts, retriable: true });
  }
}

/** The error's message and fix, scrubbed of the configuration's secrets (observability/secrets.ts). */
export function describeError(err: unknown): string {
  if (err instanceof PgcdcError)
    return scrubSecrets(err.hint ? `${err.message}\n  fix: ${err.hint}` : err.message);
  if (err instanceof Error) return scrubSecrets(err.message);
  return scrubSecrets(String(err));
}
