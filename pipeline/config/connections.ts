// Postgres connection settings per role, declared once (with defaults and descriptions) and applied
// by the one connection factory (pipeline/postgres.ts). Every connection has TCP keepalives (a
// silently dropped peer is noticed) and a statement and lock timeout suited to its role, so no
// connection waits forever on a lock or a runaway statement.
import { z } from 'zod';
import type { PgTlsConfig } from './tls.ts';

const ms = z.number().int().min(0);

const role = (what: string, d: RoleTimeouts) =>
  z
    .object({
      statementTimeoutMs: ms
        .default(d.statementTimeoutMs)
        .describe(`statement_timeout of ${what} (ms, 0 = none)`),
      lockTimeoutMs: ms.default(d.lockTimeoutMs).describe(`lock_timeout of ${what} (ms, 0 = none)`),
    })
    .strict()
    .default(d)
    .describe(`timeouts of ${what}`);

interface RoleTimeouts {
  statementTimeoutMs: number;
  lockTimeoutMs: number;
}

/**
 * A Postgres target's timeouts when not configured: 20 s and 5 s, but never more than 2/3 and 1/3
 * of kafka.sessionTimeoutMs, so a blocked batch ends as a retriable error before the consumer,
 * unable to heartbeat meanwhile, would be evicted.
 */
export function targetTimeoutsFor(sessionTimeoutMs: number): RoleTimeouts {
  return {
    statementTimeoutMs: Math.min(20_000, Math.floor((sessionTimeoutMs * 2) / 3)),
    lockTimeoutMs: Math.min(5_000, Math.floor(sessionTimeoutMs / 3)),
  };
}

export const CONNECTION_DEFAULTS = {
  connectTimeoutMs: 10_000,
  keepAliveIdleMs: 30_000,
  // the walsender streams for as long as the producer runs; its liveness is wal_sender_timeout's
  replication: { statementTimeoutMs: 0, lockTimeoutMs: 0 },
  // setup (publication, slot, position table), snapshot chunk reads, heartbeats, slot monitor
  source: { statementTimeoutMs: 300_000, lockTimeoutMs: 10_000 },
  // acknowledged position and snapshot checkpoint writes: one small row, never worth a long wait
  position: { statementTimeoutMs: 10_000, lockTimeoutMs: 5_000 },
  // one target transaction (a batch); both below kafka.sessionTimeoutMs (see the rule in schema.ts)
  target: { statementTimeoutMs: 20_000, lockTimeoutMs: 5_000 },
  // the operator verbs: check, status, slots, snapshot, dlq
  ops: { statementTimeoutMs: 30_000, lockTimeoutMs: 5_000 },
};

export const ConnectionsSchema = z
  .object({
    connectTimeoutMs: z
      .number()
      .int()
      .positive()
      .default(CONNECTION_DEFAULTS.connectTimeoutMs)
      .describe('give up connecting to a Postgres server after this long (ms)'),
    keepAliveIdleMs: z
      .number()
      .int()
      .positive()
      .default(CONNECTION_DEFAULTS.keepAliveIdleMs)
      .describe('TCP keepalive probes start after the connection was idle this long (ms)'),
    replication: role('the replication stream (walsender)', CONNECTION_DEFAULTS.replication),
    source: role(
      'source queries (setup, snapshot reads, heartbeats, slot monitor)',
      CONNECTION_DEFAULTS.source,
    ),
    position: role('the position and snapshot checkpoint writes', CONNECTION_DEFAULTS.position),
    target: z
      .object({
        statementTimeoutMs: ms
          .optional()
          .describe(
            "statement_timeout of a Postgres target's transactions (ms; default 20000, at most 2/3 of kafka.sessionTimeoutMs); must be below kafka.sessionTimeoutMs",
          ),
        lockTimeoutMs: ms
          .optional()
          .describe(
            "lock_timeout of a Postgres target's transactions (ms; default 5000, at most 1/3 of kafka.sessionTimeoutMs); must be below kafka.sessionTimeoutMs: a longer wait gets the consumer evicted and its batch redelivered in a loop",
          ),
      })
      .strict()
      .default({})
      .describe("timeouts of a Postgres target's transactions"),
    ops: role('the operator verbs (check, status, slots, snapshot, dlq)', CONNECTION_DEFAULTS.ops),
  })
  .strict();

/** The settings after loading: the target's timeouts resolved against kafka.sessionTimeoutMs (schema.ts). */
export type ConnectionsConfig = Omit<z.infer<typeof ConnectionsSchema>, 'target'> & {
  target: RoleTimeouts;
  /** TLS of each configured database (source.tls, a Postgres target's tls), set by schema.ts */
  tls?: PgTlsEntry[];
};

/** One database's TLS: `database` is its URL without the password (redactUrl), `at` its key. */
export interface PgTlsEntry {
  database: string;
  at: string;
  tls: PgTlsConfig;
}
export type PgRole = 'replication' | 'source' | 'position' | 'target' | 'ops';
