// Field types the configuration schema (schema.ts) uses in several places: Kafka topic names,
// durations in seconds, and what a target does with a TRUNCATE of the source table.
import { z } from 'zod';

/** Kafka's own rule for topic names: refused by the broker otherwise. */
export const topicName = z
  .string()
  .regex(/^[A-Za-z0-9._-]{1,249}$/, 'must be a Kafka topic name: letters, digits, ".", "_", "-" (max 249)')
  .refine((t) => t !== '.' && t !== '..', 'must be a Kafka topic name, not "." or ".."');

export const seconds = (what: string) =>
  z.number().positive().describe(`${what} (seconds, fractions allowed)`);

/**
 * What a target does with a TRUNCATE of the source table (schemas/truncate.ts). Default truncate:
 * a target that keeps rows the source no longer has is silently wrong (README: Guarantees).
 */
export const onTruncate = (what: string) =>
  z
    .enum(['truncate', 'ignore'])
    .default('truncate')
    .describe(
      `truncate: ${what}; ignore: skip it (an audit line counts each one). Default truncate: a target that keeps rows the source no longer has is silently wrong`,
    );
