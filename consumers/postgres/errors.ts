// Classifies PostgreSQL errors (SQLSTATE) into what the sink should do with them.
export type PgErrorClass = 'transient' | 'blocking' | 'secondary-unique' | 'rejected';

interface PgError {
  code?: string;
  constraint?: string;
  /** set on Node system errors (ECONNRESET, EPIPE, ...), never on a server's error */
  syscall?: string;
  message: string;
}

/** A SQLSTATE is five digits / upper-case letters; Node's socket errors carry codes like ECONNRESET. */
const SQLSTATE = /^[0-9A-Z]{5}$/;

/**
 * transient: connection or resource trouble, retry the batch later;
 * blocking: the target's shape is wrong (missing table/column, permissions): retry, operator must fix;
 * secondary-unique: a unique constraint other than the key; resolves once other partitions catch up;
 * rejected: the target refuses this row for good (check, not-null, invalid value): dead-letter it.
 */
export function classifyPgError(err: unknown, primaryKeyConstraint: string): PgErrorClass {
  const e = err as PgError;
  const code = e.code ?? '';
  // No SQLSTATE: socket closed or reset, timeout, refused connection (a system error such as
  // ECONNRESET is not a server's verdict on the batch, however its code looks).
  if (!code || e.syscall !== undefined || !SQLSTATE.test(code)) return 'transient';
  const cls = code.slice(0, 2);
  if (
    cls === '08' ||
    cls === '53' ||
    cls === '57' ||
    cls === '58' ||
    code === '40001' ||
    code === '40P01' ||
    code === '55P03'
  ) {
    return 'transient';
  }
  if (cls === '42' || cls === '3F' || cls === '28' || cls === '0A') return 'blocking';
  if (code === '23505')
    return e.constraint && e.constraint !== primaryKeyConstraint ? 'secondary-unique' : 'transient';
  if (cls === '22' || cls === '23') return 'rejected';
  return 'blocking';
}
