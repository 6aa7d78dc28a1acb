// A target's scheduled reconcile (`targets[].reconcile`, docs/reconcile.md): how often the running
// consumer of the target compares it with the source, and whether it only reports drift or repairs
// it. Parsing only; ops/reconcile does the work, ops/reconcile/schedule.ts runs it.
import { z } from 'zod';
import { positiveInt, seconds } from './fields.ts';

const UNITS = { s: 1, m: 60, h: 3600, d: 86400 } as const;

/** "90s", "15m", "6h", "1d" (or a number of seconds) -> seconds; undefined when malformed. */
export function durationSeconds(v: string | number): number | undefined {
  if (typeof v === 'number') return v > 0 ? v : undefined;
  const m = /^(\d+(?:\.\d+)?)(s|m|h|d)$/.exec(v.trim());
  return m ? Number(m[1]) * UNITS[m[2] as keyof typeof UNITS] : undefined;
}

export const ReconcileScheduleSchema = z
  .object({
    every: z
      .union([z.string(), z.number()])
      .refine((v) => durationSeconds(v) !== undefined, 'must be a duration such as "90s", "15m", "6h", "1d"')
      .transform((v) => durationSeconds(v)!)
      .describe(
        'how often: "90s", "15m", "6h", "1d" (or seconds); the first run is one interval after the start',
      ),
    mode: z
      .enum(['report', 'repair'])
      .default('report')
      .describe(
        'report: report drift only; repair: also feed missing/differing rows again and remove owned extra rows',
      ),
    includeForeign: z
      .boolean()
      .default(false)
      .describe('with mode repair: remove extra rows the target made itself too (default: never touched)'),
    chunkSize: positiveInt.default(5000).describe('source rows compared per chunk'),
    settleTimeout: seconds('how long to wait for the target to catch up before deciding a row').default(120),
  })
  .strict()
  .optional()
  .describe(
    'compare this target with the source on a schedule inside run/consume: audit line (kind reconcile), metrics pgcdc_reconcile_*; docs/reconcile.md',
  );

export type ReconcileScheduleConfig = z.output<typeof ReconcileScheduleSchema>;
