// The shaping phase of the benchmark (`--shaping`, docs/shaping.md "Cost"): what a target's
// mapping costs at the sink. On the first round's full topic, three Postgres targets, each its own
// consumer group and fresh peer database, measured one after the other and repeated
// (`--shaping-reps`), medians reported:
//   - unmapped: the exact copy (no mapping layer is built for it);
//   - mapped: renames, two computed fields (CEL) and the filter `is_active && !is_blocked`, every
//     column kept (so the rows written are as wide as the copy's, and the difference is the
//     mapping); an update of a row outside the filter becomes a removal;
//   - matched: the CMS of docs/shaping.md (dev/cli/commands/demo-shaping.ts cmsTarget): matched
//     by email (case-insensitively) with its own uid, soft delete, renames, computed fields and the
//     filter; applied one event at a time (a link and a holder lookup each).
// Events/s: the source events over the time the consumer group's committed position took from its
// first move to the end of the topic (start-up excluded; the same measure for the three, since a
// matched or filtered table has no one-row-per-event apply stamps to time); CPU: the consumer
// process's CPU seconds over that time, per 100k source events.
import { cmsTarget } from '../cli/commands/demo-shaping.ts';
import { problems, type BenchContext } from './context.ts';
import type { Round } from './driver.ts';
import { createDatabase, dbUrl, dropDatabase, groupPosition } from './env.ts';
import { follow } from './follow.ts';
import { PgcdcDriver } from './pgcdc-driver.ts';
import { CpuMeter, loadAverage } from './proc.ts';
import type { BenchResult, ShapingResult } from './result.ts';
import { fmt, markdownTable, median, ratio } from './stats.ts';

interface ShapingVariant {
  label: string;
  mapping: Record<string, unknown> | undefined;
}

const FULL_NAME = '[first_name, middle_name, last_name].filter(x, x.hasValue()).map(x, x.value()).join(" ")';

export const SHAPING_VARIANTS: readonly ShapingVariant[] = [
  { label: 'unmapped', mapping: undefined },
  {
    label: 'mapped (renames, computed, filter)',
    mapping: {
      rename: { username: 'login', city: 'town' },
      computed: { full_name: FULL_NAME, disabled: '!is_active' },
      filter: 'is_active && !is_blocked',
    },
  },
  { label: 'matched by email (the CMS)', mapping: cmsTarget('').mapping },
];

export async function shapingPhase(
  ctx: BenchContext,
  r: Round,
  events: number,
  expected: number,
  reps: number,
): Promise<ShapingResult> {
  const runs = SHAPING_VARIANTS.map((v) => ({ label: v.label, rates: [] as number[], cpu: [] as number[] }));
  for (let rep = 1; rep <= reps; rep++) {
    for (const [i, v] of SHAPING_VARIANTS.entries()) {
      const name = `sh${rep}v${i}`;
      const peerDb = `${r.id}_${name}`;
      const vr: Round = { ...r, peerDb, peerUrl: dbUrl(r.adminUrl, peerDb) };
      await createDatabase(r.adminUrl, peerDb, false);
      const d = new PgcdcDriver({
        urls: ctx.urls,
        dir: ctx.dir,
        peerName: name,
        ...(v.mapping ? { peerMapping: v.mapping } : {}),
      });
      try {
        await d.startSink(vr);
        const f = await follow(
          `shaping ${v.label}`,
          () => groupPosition(ctx.admin, d.sinkGroup(vr, name), d.topic(vr)),
          expected,
          () => new CpuMeter(d.processes()),
          problems(d),
          { timeoutMs: 900_000, intervalMs: 200 },
        );
        // the group's position counts Kafka messages (tombstones too): in source events
        if (f.rate) runs[i]!.rates.push(Math.round((f.rate * events) / expected));
        if (f.cpu !== undefined) runs[i]!.cpu.push((f.cpu * 100_000) / events);
      } finally {
        await d.stopSink();
        await dropDatabase(r.adminUrl, peerDb);
      }
    }
    ctx.say(
      `  shaping rep ${rep}/${reps} (load ${loadAverage().join(' ')}): ${runs
        .map((x) => `${x.label} ${x.rates[x.rates.length - 1] ?? '-'}/s`)
        .join(', ')}`,
    );
  }
  return {
    events,
    variants: runs.map((x) => ({
      label: x.label,
      rates: x.rates,
      median: median(x.rates),
      cpuPer100k: x.cpu.length > 0 ? Math.round(median(x.cpu)! * 100) / 100 : undefined,
    })),
  };
}

/** The phase as markdown (nothing when it did not run). */
export function renderShaping(res: BenchResult): string[] {
  const s = res.shaping;
  if (!s) return [];
  const base = s.variants[0];
  return [
    '',
    `### Shaped targets: sink events/s and CPU (${s.events} source events, medians)`,
    '',
    markdownTable(
      [
        'target',
        'events/s (median)',
        'each repetition',
        'x unmapped',
        'CPU s / 100k events',
        'x unmapped CPU',
      ],
      s.variants.map((v) => [
        v.label,
        fmt(v.median),
        v.rates.join(', '),
        v === base ? '' : ratio(v.median, base?.median),
        fmt(v.cpuPer100k, 2),
        v === base ? '' : ratio(v.cpuPer100k, base?.cpuPer100k),
      ]),
    ),
    '',
  ];
}
