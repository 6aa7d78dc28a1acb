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
import { SourceSchema } from './source.ts';
import { TargetSchema } from './targets.ts';

export { identifier } from './fields.ts';
export * from './kafka.ts';
export * from './operations.ts';
export * from './source.ts';
export * from './targets.ts';

export const ConfigSchema = z
  .object({
    source: SourceSchema,
    kafka: KafkaSchema,
    registry: RegistrySchema,
    producer: ProducerSchema.default({
      batchMaxMessages: 2000,
      batchMaxBytes: DEFAULT_BATCH_MAX_BYTES,
      maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES,
      lingerMs: 5,
    }),
    targets: z.array(TargetSchema).default([]),
    metrics: z
      .object({
        host: z.string().default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(9464),
      })
      .strict()
      .default({ host: '127.0.0.1', port: 9464 }),
    log: z
      .object({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default('info') })
      .strict()
      .default({ level: 'info' }),
    operations: OperationsSchema.prefault({}),
    connections: ConnectionsSchema.prefault({}).describe(
      'Postgres connections: timeouts per role and TCP keepalives (README: Connections)',
    ),
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
  })
  .transform((cfg) => ({
    ...cfg,
    connections: {
      ...cfg.connections,
      target: { ...targetTimeoutsFor(cfg.kafka.sessionTimeoutMs), ...definedOnly(cfg.connections.target) },
    },
  }));

function definedOnly<T extends object>(o: T): { [K in keyof T]-?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]-?: Exclude<T[K], undefined>;
  };
}

export type Config = z.output<typeof ConfigSchema>;
export type SourceConfig = Config['source'];
