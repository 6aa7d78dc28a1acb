// A target's scheduled reconcile (`targets[].reconcile`, docs/reconcile.md): how often the running
// consumer of the target compares it with the source, and whether it only reports drift or repairs
// it. Parsing only; ops/reconcile does the work, ops/reconcile/schedule.ts runs it.
import { z } from 'zod';
import { durationSeconds, positiveInt, seconds } from './fields.ts';

export const ReconcileScheduleSchema = z
  .object({
    every: z
      .union([z.string(), z.number()])
      .refine(
        (v) => durationSeconds(v) !== undefined,
        'must be a positive duration such as "90s", "15m", "6h", "1d", "1h30m"',
      )
      .transform((v) => durationSeconds(v)!)
      .describe(
        'how often: "90s", "15m", "6h", "1d", "1h30m" (or seconds); the first run is one interval after the start',
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
