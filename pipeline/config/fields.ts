// Field types the configuration sections use in several places: SQL identifiers, names, Kafka topic
// names, durations (in seconds, and the one parser of duration text: "90s", "15m", "1h30m"), and
// what a target does with a TRUNCATE of the source table.
import { z } from 'zod';

/** A SQL identifier we are willing to quote and use: validated here, quoted at use. */
export const identifier = z
  .string()
  .regex(
    /^[A-Za-z_][A-Za-z0-9_$]{0,62}$/,
    'must be a plain SQL identifier (letters, digits, _; max 63 chars)',
  );

/** A target's name: part of its consumer group, dead-letter topic, metrics labels. */
export const name = z.string().regex(/^[a-z][a-z0-9_-]{0,62}$/, 'must match [a-z][a-z0-9_-]*');
export const url = (what: string) => z.string().min(1).describe(what);
export const positiveInt = z.number().int().positive();

/** Kafka's own rule for topic names: refused by the broker otherwise. */
export const topicName = z
  .string()
  .regex(/^[A-Za-z0-9._-]{1,249}$/, 'must be a Kafka topic name: letters, digits, ".", "_", "-" (max 249)')
  .refine((t) => t !== '.' && t !== '..', 'must be a Kafka topic name, not "." or ".."');

const DURATION = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/i;
const DURATION_PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gi;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * The one parser of duration text (reconcile.every, replay --to -15m): one or more
 * <number><unit> parts, units ms s m h d in any case, fractions allowed ("90s", "15m", "1.5h",
 * "1h30m", "250ms") -> milliseconds; undefined when malformed (no sign, no spaces).
 */
export function parseDurationMs(text: string): number | undefined {
  if (!DURATION.test(text)) return undefined;
  let ms = 0;
  for (const m of text.matchAll(DURATION_PART)) ms += Number(m[1]) * UNIT_MS[m[2]!.toLowerCase()]!;
  return ms;
}

/** A positive duration in seconds from its text (parseDurationMs, trimmed) or a number of seconds. */
export function durationSeconds(v: string | number): number | undefined {
  const s = typeof v === 'number' ? v : (parseDurationMs(v.trim()) ?? NaN) / 1000;
  return Number.isFinite(s) && s > 0 ? s : undefined;
}

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
