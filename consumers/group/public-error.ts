// The text of an error as it may be shown outside the dead-letter record: in a target's status
// (/readyz, `pgcdc status`, the status topic) and in log lines.
import { describeError } from '../../pipeline/errors.ts';

export function publicError(err: unknown): string {
  return describeError(err);
}
