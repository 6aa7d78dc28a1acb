// The `mysql` target kind's section of the configuration: a MySQL 8 or MariaDB 10.6+ peer table
// kept equal to the source table (consumers/mysql). One entry of `targets`, plugged into the
// target union in targets.ts. docs/mysql.md describes it.
import { z } from 'zod';
import { name, onTruncate, positiveInt, topicName } from './fields.ts';
import { mappingField } from './mapping.ts';
import { ReconcileScheduleSchema } from './reconcile.ts';
import { TargetTablesSchema } from './tables.ts';

/** A MySQL identifier we are willing to quote and use (InnoDB: 64 characters). */
const mysqlIdentifier = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_$]{0,47}$/, 'must be a plain identifier (letters, digits, _; max 48 chars)')
  .describe('table name; its marker tables add up to 16 characters (<table>_pgcdc_truncated)');

export const MysqlTargetSchema = z
  .object({
    name: name.describe('target name: its consumer group <prefix>.<name>, dead-letter topic, metrics label'),
    type: z.literal('mysql').describe('a MySQL 8 or MariaDB 10.6+ peer database'),
    url: z
      .string()
      .regex(
        /^(mysql|mariadb):\/\/[^\s/]+\/[A-Za-z0-9_$]+(\?.*)?$/,
        'must be mysql://user:password@host:port/database (use ${ENV} for the password)',
      )
      .describe(
        'mysql://user:password@host:port/database of the peer (MySQL 8 or MariaDB 10.6+); take the password from the environment: ${MYSQL_PASSWORD}',
      ),
    table: mysqlIdentifier.default('users'),
    tables: TargetTablesSchema,
    createTable: z
      .boolean()
      .default(true)
      .describe(
        'create the target table (and <table>_pgcdc_deleted, <table>_pgcdc_truncated) when missing, utf8mb4 with a binary collation',
      ),
    deleteMarkerRetentionHours: z
      .number()
      .nonnegative()
      .default(168)
      .describe(
        'keep the marker of a deleted row this long (0 = forever): an older change of that row redriven or replayed later than this could bring it back',
      ),
    batchSize: positiveInt
      .default(500)
      .describe('max events applied in one target transaction (one multi-row statement per kind)'),
    applyConnections: positiveInt
      .default(3)
      .describe(
        'target connections applying partition batches at the same time (one batch each; one partition stays in order; a deadlock or lock wait between them is retried, never dead-lettered; the 2nd and later are opened only when that many partitions have batches at once); 1 = one partition after another. A target with mapping.match applies on one connection',
      ),
    tls: z
      .object({
        rejectUnauthorized: z
          .boolean()
          .default(true)
          .describe('verify the server certificate (turn off only for a self-signed test server)'),
        ca: z.string().optional().describe('PEM of the CA that signed the server certificate'),
      })
      .strict()
      .optional()
      .describe('connect with TLS (default: plain TCP, as the URL says)'),
    onTruncate: onTruncate('remove every row older than the truncate, and keep older events out'),
    mapping: mappingField,
    reconcile: ReconcileScheduleSchema,
    dlqTopic: topicName.optional().describe('dead-letter topic (default <prefix>.dlq.<target>)'),
  })
  .strict();

export type MysqlTargetConfig = z.infer<typeof MysqlTargetSchema>;
