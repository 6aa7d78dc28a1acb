// The source section: the PostgreSQL database, table, publication and slot the producer tails, and
// its initial feed (snapshot). Part of the configuration (schema.ts).
import { z } from 'zod';
import { loadContract, type TableContract } from '../../schemas/contract.ts';
import { identifier, positiveInt, url } from './fields.ts';
import { OriginsSchema } from './peers.ts';
import { SchemaChangesSchema } from './schema-changes.ts';
import { PgTlsSchema, URL_TLS_CONFLICT, urlTlsConflict } from './tls.ts';
import { SourceTablesSchema, sourceTablesOf, type TableRef } from './tables.ts';
import { SourceFilterSchema } from './source-filter.ts';

export const SNAPSHOT_DEFAULTS = {
  mode: 'initial' as const,
  batchSize: 1000,
  checkpointSchema: 'public',
  checkpointTable: 'pgcdc_snapshot',
  progressIntervalMs: 10_000,
  countTimeoutMs: 10_000,
};

export const SnapshotSchema = z
  .object({
    mode: z
      .enum(['initial', 'never'])
      .default(SNAPSHOT_DEFAULTS.mode)
      .describe(
        'initial: a producer starting on a table this slot never snapshotted feeds every row first (op=r); never: only on request (pgcdc snapshot)',
      ),
    batchSize: positiveInt
      .default(SNAPSHOT_DEFAULTS.batchSize)
      .describe('the feed limit: rows read per chunk (one short transaction, key order)'),
    filter: z
      .string()
      .min(1)
      .optional()
      .describe('SQL predicate on the table rows, e.g. "is_active AND NOT is_blocked"; trusted SQL'),
    checkpointSchema: identifier
      .default(SNAPSHOT_DEFAULTS.checkpointSchema)
      .describe('schema of the checkpoint table'),
    checkpointTable: identifier
      .default(SNAPSHOT_DEFAULTS.checkpointTable)
      .describe('source table holding the progress per slot and table, created if missing'),
    progressIntervalMs: positiveInt
      .default(SNAPSHOT_DEFAULTS.progressIntervalMs)
      .describe('log the progress this often'),
    countTimeoutMs: positiveInt
      .default(SNAPSHOT_DEFAULTS.countTimeoutMs)
      .describe('count(*) the rows to read if it answers within this time, else use the planner estimate'),
  })
  .strict();

export const SourceSchema = z
  .object({
    url: url('PostgreSQL connection URL of the source database (a role with REPLICATION)'),
    schema: identifier
      .default('public')
      .describe('schema of the source table (and of the source.tables given without one)'),
    table: identifier
      .default('users')
      .describe(
        'the source table when source.tables is not given; it needs a primary key and an event contract (source.contracts)',
      ),
    tables: SourceTablesSchema,
    filter: SourceFilterSchema,
    contracts: z
      .string()
      .min(1)
      .optional()
      .describe(
        'directory holding the event contracts <table>-key.avsc and <table>-value.avsc (relative to the configuration file); default: the shipped contracts (users)',
      ),
    schemaChanges: SchemaChangesSchema,
    publication: identifier
      .default('pgcdc_pub')
      .describe('created if missing, FOR TABLE every captured table; an existing one must include them all'),
    slot: z
      .string()
      .regex(
        /^[a-z0-9_]{1,63}$/,
        'must be a replication slot name: lower-case letters, digits and _ only (max 63); Postgres refuses anything else',
      )
      .default('pgcdc_slot')
      .describe('logical replication slot (pgoutput), created if missing'),
    origins: OriginsSchema,
    heartbeatIntervalMs: positiveInt
      .default(10_000)
      .describe('emit a logical message this often so the slot advances while the table is idle'),
    stallTimeoutMs: positiveInt
      .default(60_000)
      .describe(
        'a change not handed over to Kafka for this long (Kafka not acknowledging) closes the replication connection and reconnects with the backoff, so the server can end its walsender (e.g. to invalidate the slot) instead of blocking on a client that does not read',
      ),
    statusIntervalMs: positiveInt
      .default(5000)
      .describe('standby status (acknowledged LSN) sent at least this often'),
    ackIntervalMs: positiveInt
      .default(200)
      .describe(
        'store (source.position) and acknowledge the newest Kafka-acknowledged position at most this often: one small source write per interval instead of one per transaction; a restart re-publishes at most this much (duplicates are absorbed)',
      ),
    snapshot: SnapshotSchema.default(SNAPSHOT_DEFAULTS).describe('initial feed (docs/snapshot.md)'),
    position: z
      .object({
        schema: identifier.default('public').describe('schema of the position table'),
        table: identifier.default('pgcdc_position').describe('the position table'),
      })
      .strict()
      .default({ schema: 'public', table: 'pgcdc_position' })
      .describe(
        'source table (created if missing) holding the last acknowledged LSN per slot; a slot that disagrees with it is refused (docs/operations.md: Slot protection)',
      ),
    tls: PgTlsSchema.optional(),
  })
  .strict()
  .refine((s) => !urlTlsConflict(s.url, s.tls), { message: URL_TLS_CONFLICT, path: ['url'] });

type ContractSource = Pick<z.output<typeof SourceSchema>, 'table' | 'schema' | 'contracts' | 'tables'>;

/**
 * The event contract of a captured table (default: the first, the only one with the shorthand),
 * from the configured contract directory (absolute once loaded).
 */
export function contractOf(source: ContractSource, table?: TableRef): TableContract {
  const t = table ?? sourceTablesOf(source)[0]!;
  return loadContract(t.table, t.schema, source.contracts);
}

/** The contract of every captured table, in configuration order. */
export function contractsOf(source: ContractSource): TableContract[] {
  return sourceTablesOf(source).map((t) => contractOf(source, t));
}
