// The operations section: status topic, slot and target health thresholds, audit summaries and the
// graceful stop. Part of the configuration (schema.ts).
import { z } from 'zod';
import { positiveInt } from './fields.ts';

export const OperationsSchema = z
  .object({
    statusTopic: z
      .string()
      .regex(/^[A-Za-z0-9._-]+$/)
      .optional()
      .describe(
        'compacted topic holding the last status of the producer and each target (default <prefix>.status)',
      ),
    statusIntervalMs: positiveInt
      .default(2000)
      .describe('status published this often while it changes (and at once on a state change)'),
    slotPollIntervalMs: positiveInt
      .default(5000)
      .describe('the producer reads pg_replication_slots this often (WAL retained, stall detection)'),
    slotStallMs: positiveInt
      .default(60_000)
      .describe('not ready when the confirmed LSN has not moved for this long while the WAL did'),
    slotWalWarnRatio: z
      .number()
      .gt(0)
      .lt(1)
      .default(0.5)
      .describe(
        'warn (log, pgcdc_slot_wal_at_risk, readiness) when the slot may retain less than this share of max_slot_wal_keep_size before the server invalidates it',
      ),
    targetStuckMs: positiveInt
      .default(60_000)
      .describe('not ready when a target has kept failing (retrying) for this long'),
    auditSummaryIntervalMs: positiveInt
      .default(10_000)
      .describe('one info-level audit summary per stream / target this often'),
    stopTimeoutMs: positiveInt
      .default(30_000)
      .describe(
        'a graceful stop (SIGTERM/SIGINT) waits this long for unacknowledged Kafka sends and running target batches, then logs what it abandons and exits (nothing is lost: both are read again at the next start)',
      ),
  })
  .strict();

export type OperationsConfig = z.output<typeof OperationsSchema>;
