// The targets section: one entry per target (a Postgres peer or a webhook receiver), each read by
// its own consumer group. Part of the configuration (schema.ts).
import { z } from 'zod';
import { WEBHOOK_SECRET_RE, webhookSecretKey } from '../../consumers/webhook/verify.ts';
import { MysqlTargetSchema, type MysqlTargetConfig } from './mysql.ts';
import { identifier, name, onTruncate, positiveInt, seconds, topicName, url } from './fields.ts';
import { mappingField } from './mapping.ts';
import { ReconcileScheduleSchema } from './reconcile.ts';
import { HttpsTlsSchema, PgTlsSchema, URL_TLS_CONFLICT, urlTlsConflict } from './tls.ts';
import { TargetTablesSchema } from './tables.ts';

export const PostgresTargetSchema = z
  .object({
    name: name.describe('target name: its consumer group <prefix>.<name>, dead-letter topic, metrics label'),
    type: z.literal('postgres').describe('a PostgreSQL peer database'),
    url: url('PostgreSQL URL of the peer database'),
    schema: identifier.default('public').describe('schema of the target table (source.table shorthand only)'),
    table: identifier.default('users').describe('the target table (source.table shorthand only)'),
    tables: TargetTablesSchema,
    createTable: z
      .boolean()
      .default(true)
      .describe(
        'create the target table (and its tables <table>_pgcdc_deleted, <table>_pgcdc_truncated) when missing',
      ),
    deleteMarkerRetentionHours: z
      .number()
      .nonnegative()
      .default(168)
      .describe(
        'keep the marker of a deleted row this long (0 = forever): an older change of that row redriven or replayed later than this could bring it back',
      ),
    batchSize: positiveInt.default(500).describe('max events applied in one target transaction'),
    applyConnections: positiveInt
      .default(3)
      .describe(
        'target connections applying partition batches at the same time (one batch each; one partition stays in order; the 2nd and later are opened only when that many partitions have batches at once); 1 = one partition after another',
      ),
    onTruncate: onTruncate('remove every row older than the truncate, and keep older events out'),
    mapping: mappingField,
    reconcile: ReconcileScheduleSchema,
    dlqTopic: topicName.optional().describe('dead-letter topic (default <prefix>.dlq.<target>)'),
    tls: PgTlsSchema.optional(),
  })
  .strict()
  .refine((t) => !urlTlsConflict(t.url, t.tls), { message: URL_TLS_CONFLICT, path: ['url'] });

export const WebhookTargetSchema = z
  .object({
    name: name.describe('target name: its consumer group <prefix>.<name>, dead-letter topic, metrics label'),
    type: z.literal('webhook').describe('an HTTP receiver, signed by the Standard Webhooks scheme'),
    url: z
      .string()
      .regex(/^https?:\/\/[^\s]+$/, 'must be an http:// or https:// URL')
      .describe('receiver URL; every event is POSTed here'),
    tables: TargetTablesSchema,
    secret: z
      .string()
      .min(1)
      .describe(
        'Standard Webhooks signing secret: "whsec_<base64 key>" (or the base64 key alone), as the reference libraries read it; use ${ENV}',
      ),
    headers: z
      .record(z.string(), z.string())
      .default({})
      .describe('extra request headers (e.g. authorization: Bearer ${TOKEN})'),
    connectTimeout: seconds('TCP/TLS connect timeout').default(5),
    responseTimeout: seconds('time allowed for the response after the request is sent').default(30),
    maxAttempts: positiveInt.default(10).describe('attempts per event before it is dead-lettered'),
    backoff: z
      .object({
        initial: seconds('delay after the first failed attempt').default(1),
        max: seconds('cap of the exponential delay').default(60),
        jitter: z
          .number()
          .min(0)
          .max(1)
          .default(0.2)
          .describe('each delay is reduced by up to this fraction'),
      })
      .strict()
      .default({ initial: 1, max: 60, jitter: 0.2 })
      .describe('delay between attempts: initial * 2^(attempt-1), capped at max, reduced by up to jitter'),
    retryAfterMax: seconds('longest Retry-After (429/503) honoured').default(300),
    batchSize: positiveInt.default(1).describe('events per request: 1 = one JSON object, >1 = a JSON array'),
    onTruncate: onTruncate('deliver a `truncated` event'),
    mapping: mappingField,
    concurrency: positiveInt
      .default(4)
      .describe("requests in flight at once; one user's events are always sent one after the other"),
    window: positiveInt
      .default(200)
      .describe(
        'events of a partition handled at once; offsets are committed when all are delivered or dead-lettered',
      ),
    onFailure: z
      .enum(['dead-letter', 'block'])
      .default('dead-letter')
      .describe(
        'dead-letter: after maxAttempts (or a permanent 4xx) the event goes to the DLQ and delivery goes on; block: retry forever, never skip',
      ),
    circuitBreaker: z
      .object({
        failureThreshold: positiveInt
          .default(5)
          .describe('consecutive failed requests that open the circuit'),
        cooldown: seconds('how long an open circuit sends nothing before one probe').default(30),
      })
      .strict()
      .default({ failureThreshold: 5, cooldown: 30 })
      .describe('per target: after failureThreshold failed requests in a row, nothing is sent for cooldown'),
    dlqTopic: topicName.optional().describe('dead-letter topic (default <prefix>.dlq.<target>)'),
    tls: HttpsTlsSchema.optional().describe(
      'TLS to an https:// receiver: a private CA, a client certificate (mTLS)',
    ),
  })
  .strict()
  .superRefine((t, ctx) => {
    if (t.secret.startsWith('whsec_') && !/^[A-Za-z0-9+/]+={0,2}$/.test(t.secret.slice('whsec_'.length)))
      ctx.addIssue({ code: 'custom', path: ['secret'], message: 'whsec_ must be followed by base64' });
    else if (!WEBHOOK_SECRET_RE.test(t.secret) || webhookSecretKey(t.secret).length === 0)
      ctx.addIssue({
        code: 'custom',
        path: ['secret'],
        message:
          'must be "whsec_<base64 key>" or a base64 key (Standard Webhooks receivers base64-decode it); e.g. whsec_$(openssl rand -base64 32)',
      });
    if (t.backoff.max < t.backoff.initial)
      ctx.addIssue({ code: 'custom', path: ['backoff', 'max'], message: 'must be >= backoff.initial' });
  });

export const TargetSchema = z.discriminatedUnion('type', [
  PostgresTargetSchema,
  WebhookTargetSchema,
  MysqlTargetSchema,
]);

export type TargetConfig = z.output<typeof TargetSchema>;
export type PostgresTargetConfig = z.infer<typeof PostgresTargetSchema>;
export type WebhookTargetConfig = z.infer<typeof WebhookTargetSchema>;
export type { MysqlTargetConfig };

/** Events the consumer hands to a target's sink at once (offsets are committed after each). */
export function chunkSizeFor(target: TargetConfig): number {
  switch (target.type) {
    case 'postgres':
    case 'mysql':
      return target.batchSize;
    case 'webhook':
      return target.window;
    default:
      return target satisfies never;
  }
}
