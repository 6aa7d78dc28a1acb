// The building blocks of the goal rows (goals.ts): a figure read from a bench result or the reason
// it is missing (pipeline not in the run, no round finished, a phase skipped by an option, a
// failed baseline), and a comparison of two figures against a bound. Pure.
import type { BenchResult, GoalRow, LatencyResult, PipelineResult } from './result.ts';
import { fmt, median } from './stats.ts';

/** A figure of the result, or why it is not there. */
export type Figure = { value: number; text: string } | { missing: string };

export const missing = (f: Figure): f is { missing: string } => 'missing' in f;
export const firstLine = (s: string) => (s.split('\n')[0] ?? '').slice(0, 160);

export function errorFor(res: BenchResult, prefix: string): string | undefined {
  const e = res.baselines.errors.find((x) => x.startsWith(prefix));
  return e ? firstLine(e) : undefined;
}

export const ours = (res: BenchResult) => res.pipelines.find((p) => p.name === 'pgcdc');
export const peer = (res: BenchResult) => res.pipelines.find((p) => p.name === 'debezium');

/** Why a pipeline has no figures at all, or undefined when it finished at least one round. */
export function pipelineMissing(res: BenchResult, name: 'pgcdc' | 'debezium'): string | undefined {
  const p = name === 'pgcdc' ? ours(res) : peer(res);
  if (!p)
    return name === 'pgcdc'
      ? 'pgcdc not in this run (--only debezium)'
      : 'no Debezium in this run (run with --vs debezium)';
  if (p.rounds.length === 0)
    return `${name}: no round finished${p.errors[0] ? ` (${firstLine(p.errors[0])})` : ''}`;
  return undefined;
}

/** The median over a pipeline's finished rounds of one figure. */
export function roundsMedian(
  res: BenchResult,
  name: 'pgcdc' | 'debezium',
  pick: (r: PipelineResult['rounds'][number]) => number | undefined,
  unit: string,
  digits?: number,
): Figure {
  const why = pipelineMissing(res, name);
  if (why) return { missing: why };
  const p = name === 'pgcdc' ? ours(res)! : peer(res)!;
  const v = median(p.rounds.map(pick).filter((x): x is number => x !== undefined));
  const failed = p.errors.filter((e) => e.startsWith('round ')).length;
  if (v === undefined) {
    // a figure of the last round only (webhook): lost with that round
    const last = p.errors.find((e) => e.startsWith(`round ${res.options.rounds}:`));
    return {
      missing: last ? `the last round failed: ${firstLine(last)}` : `${name}: not in its rounds' results`,
    };
  }
  const of = failed > 0 ? ` (median of ${p.rounds.length}; ${failed} round(s) failed)` : '';
  return { value: v, text: `${fmt(v, digits)} ${unit}${of}` };
}

export function baselineFigure(
  res: BenchResult,
  values: number[] | undefined,
  errPrefix: string,
  unit: string,
  skipped?: string,
): Figure {
  const v = values ? median(values) : undefined;
  if (v !== undefined) return { value: v, text: `${fmt(v)} ${unit}` };
  if (skipped) return { missing: skipped };
  return { missing: errorFor(res, errPrefix) ?? `${errPrefix.replace(/:$/, '')}: not measured` };
}

export const noBaselines = (res: BenchResult) =>
  res.options.baselines ? undefined : 'skipped (--no-baselines)';

/** a / b against a bound: at least `atLeast` or at most `atMost` times the baseline. */
export function compare(
  block: string,
  goal: string,
  a: Figure,
  b: Figure,
  /** `need`: how the bound reads (default: the ratio, e.g. ">= 0.90x") */
  bound: ({ atLeast: number } | { atMost: number }) & { need?: string },
  note = '',
): GoalRow {
  const row = { block, goal, measured: missing(a) ? '' : a.text, baseline: missing(b) ? '' : b.text };
  if (missing(a)) return { ...row, ratio: '', verdict: 'not measured', why: a.missing };
  if (missing(b)) return { ...row, ratio: '', verdict: 'not measured', why: b.missing };
  const r = a.value / b.value;
  const ok = 'atLeast' in bound ? r >= bound.atLeast : r <= bound.atMost;
  const need =
    bound.need ?? ('atLeast' in bound ? `>= ${fmt(bound.atLeast, 2)}x` : `<= ${fmt(bound.atMost, 2)}x`);
  return {
    ...row,
    ratio: `${fmt(r, 2)}x`,
    verdict: ok ? 'reached' : 'not reached',
    why: `needs ${need}${note ? `; ${note}` : ''}`,
  };
}

export const limit = (v: number, unit: string, note = ''): Figure => ({
  value: v,
  text: `limit ${fmt(v, 0)} ${unit}${note}`,
});

/** The last round's latency phase of a pipeline, or why there is none. */
export function latencyOf(
  res: BenchResult,
  name: 'pgcdc' | 'debezium',
  pick: (l: LatencyResult) => boolean,
  phase: string,
): LatencyResult | { missing: string } {
  const why = pipelineMissing(res, name);
  if (why) return { missing: why };
  if (res.options.latencySeconds <= 0) return { missing: 'latency phases skipped (--latency-seconds 0)' };
  const p = name === 'pgcdc' ? ours(res)! : peer(res)!;
  const l = p.rounds.flatMap((r) => r.latency ?? []).find(pick);
  if (l) return l;
  if (phase === 'saturation' && !res.options.saturation) return { missing: 'skipped (--no-saturation)' };
  if (phase !== 'saturation' && !res.options.rates.includes(Number(phase)))
    return { missing: `--rates has no ${phase}` };
  const last = p.errors.find((e) => e.startsWith(`round ${res.options.rounds}:`));
  return { missing: last ? `the last round (latency phases) failed: ${firstLine(last)}` : 'not recorded' };
}
