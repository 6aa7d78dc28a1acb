// The configuration, declared once: every option with its default and description, one module per
// section (source.ts, kafka.ts, targets.ts, operations.ts, connections.ts). Parsed and validated
// at start-up (load.ts); the rest of the program receives typed slices of it.
import { z } from 'zod';
import { ConnectionsSchema, targetTimeoutsFor } from './connections.ts';
import {
  DEFAULT_BATCH_MAX_BYTES,
  DEFAULT_MAX_MESSAGE_BYTES,
  KafkaSchema,
  ProducerSchema,
  RegistrySchema,
} from './kafka.ts';
import { OperationsSchema } from './operations.ts';
import { checkPeersRoot, PeersSchema } from './peers.ts';
import { SourceSchema } from './source.ts';
import { tablesIssues } from './tables.ts';
import { mappingIssues } from './mapping.ts';
import { sourceFilterIssues } from './source-filter.ts';
import { TargetSchema } from './targets.ts';
import { pgTlsEntries } from './tls.ts';

export { identifier } from './fields.ts';
export * from './kafka.ts';
export * from './operations.ts';
export * from './peers.ts';
export * from './source.ts';
export * from './tables.ts';
export * from './targets.ts';

export const ConfigSchema = z
  .object({
    source: SourceSchema.describe('the PostgreSQL table whose changes are captured'),
    kafka: KafkaSchema.describe('the Kafka cluster and the topics pgcdc creates'),
    registry: RegistrySchema.describe('the schema registry the Avro schemas are registered in'),
    producer: ProducerSchema.default({
      batchMaxMessages: 2000,
      batchMaxBytes: DEFAULT_BATCH_MAX_BYTES,
      maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES,
      lingerMs: 0,
    }).describe('how the producer batches its Kafka sends'),
    targets: z
      .array(TargetSchema)
      .default([])
      .describe('where the events go: one consumer group per target (type postgres or webhook)'),
    metrics: z
      .object({
        host: z
          .string()
          .default('127.0.0.1')
          .describe('address /metrics, /healthz and /readyz listen on (0.0.0.0: every interface)'),
        port: z
          .number()
          .int()
          .min(0)
          .max(65535)
          .default(9464)
          .describe('port of /metrics, /healthz, /readyz of produce and run (0 = any free port)'),
        consumePort: z
          .number()
          .int()
          .min(0)
          .max(65535)
          .default(9465)
          .describe(
            'port of consume (its own default, so produce and consume run side by side; a second consume on one host needs --metrics-port)',
          ),
      })
      .strict()
      .default({ host: '127.0.0.1', port: 9464, consumePort: 9465 })
      .describe('the HTTP endpoint of the pipeline processes (overridden by --metrics-port)'),
    log: z
      .object({
        level: z
          .enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal'])
          .default('info')
          .describe('lowest level logged (--log-level overrides it)'),
      })
      .strict()
      .default({ level: 'info' })
      .describe('JSON log lines (pino) on stderr'),
    operations: OperationsSchema.prefault({}).describe(
      'status topic, health thresholds, audit summaries, graceful stop',
    ),
    connections: ConnectionsSchema.prefault({}).describe(
      'Postgres connections: timeouts per role and TCP keepalives (docs/operations.md: Connections)',
    ),
    peers: PeersSchema.optional().describe('multi-master mesh of PostgreSQL nodes (docs/peers.md)'),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    // A target transaction blocked longer than the session timeout gets the consumer evicted (it
    // cannot heartbeat meanwhile) and the batch redelivered, blocked again: a loop readiness cannot
    // see. Below it, the wait ends as a retriable error that status and readiness show.
    if (cfg.targets.some((t) => t.type === 'postgres' || t.type === 'mysql')) {
      for (const key of ['statementTimeoutMs', 'lockTimeoutMs'] as const) {
        const v = cfg.connections.target[key];
        if (v !== undefined && (v === 0 || v >= cfg.kafka.sessionTimeoutMs))
          ctx.addIssue({
            code: 'custom',
            path: ['connections', 'target', key],
            message: `must be between 1 and kafka.sessionTimeoutMs (${cfg.kafka.sessionTimeoutMs}) exclusive: a longer wait gets the target's consumer evicted and its batch redelivered in a loop`,
          });
      }
    }
    checkPeersRoot(cfg, (path, message) => ctx.addIssue({ code: 'custom', path, message }));
    const seen = new Set<string>();
    cfg.targets.forEach((t, i) => {
      if (seen.has(t.name))
        ctx.addIssue({
          code: 'custom',
          path: ['targets', i, 'name'],
          message: `duplicate target name "${t.name}"`,
        });
      seen.add(t.name);
    });
    for (const issue of tablesIssues(cfg.source, cfg.targets)) ctx.addIssue({ code: 'custom', ...issue });
    for (const issue of mappingIssues(cfg.source, cfg.targets)) ctx.addIssue({ code: 'custom', ...issue });
    for (const issue of sourceFilterIssues(cfg.source)) ctx.addIssue({ code: 'custom', ...issue });
  })
  .transform((cfg) => {
    const tls = pgTlsEntries(cfg.source, cfg.targets);
    return {
      ...cfg,
      connections: {
        ...cfg.connections,
        target: { ...targetTimeoutsFor(cfg.kafka.sessionTimeoutMs), ...definedOnly(cfg.connections.target) },
        ...(tls.length ? { tls } : {}),
      },
    };
  });

function definedOnly<T extends object>(o: T): { [K in keyof T]-?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]-?: Exclude<T[K], undefined>;
  };
}

export type Config = z.output<typeof ConfigSchema>;
export type SourceConfig = Config['source'];
