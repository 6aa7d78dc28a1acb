// The exit codes of `pgcdc`, one table for every verb (documented in docs/cli.md), so scripts can
// rely on them: 0 done / healthy; 1 failed (with the error and its fix on stderr); 2 usage error
// or a confirmation (--yes) missing, nothing done; 3 health check says unhealthy (`status`).
export const EXIT = {
  /** the verb did its job; `status`: the pipeline is healthy; `check`: no ERROR */
  ok: 0,
  /** the verb failed (the error and its fix on stderr), `check` found an ERROR, `dlq redrive` left entries */
  failed: 1,
  /** bad options or arguments, or a verb that skips or deletes data was not confirmed with --yes */
  usage: 2,
  /** `status`: the pipeline is unhealthy (the problems are listed) */
  unhealthy: 3,
  /** a second SIGINT/SIGTERM: exited at once */
  interrupted: 130,
} as const;
