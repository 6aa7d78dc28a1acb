// Where a process's time went, from a V8 CPU profile (`--cpu-prof`, the bench's --profile): the
// busy share of the wall time (idle = the event loop waiting on I/O: Kafka, Postgres), and the busy
// time split by pipeline stage (pgoutput and pg wire decoding, row decoding, Avro, publisher,
// kafkajs, snapshot, GC, ...). A sample in Node internals or a native builtin (Buffer allocation,
// UTF-8 decoding) is charged to the nearest caller in a package or project file, so "Avro" includes
// the Buffer work avsc asks for. Pure: a parsed profile in, figures out; the file wrapper is at the
// end. The window can be cut to the part where events flow (the first to the last sample with a
// frame of the publisher), so start-up (module loading) does not blur the catch-up.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fmt, markdownTable } from './stats.ts';

/** The parts of a `.cpuprofile` this reads. */
export interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    children?: number[];
  }[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Stages, in the order they are reported. */
export const STAGES = [
  'pg wire + pgoutput parse',
  'row decode (assembler, values)',
  'Avro encode',
  'publisher',
  'kafkajs',
  'snapshot',
  'other pgcdc',
  'other packages',
  'node internals',
  'garbage collection',
  'program (V8, native)',
] as const;
export type Stage = (typeof STAGES)[number];

export interface ProfileSummary {
  /** wall time of the window, ms */
  wallMs: number;
  /** time the main thread was not idle, ms */
  busyMs: number;
  byStage: Record<Stage, number>;
  /** busy ms by owner (package or project file), largest first */
  byOwner: [string, number][];
  /** self ms by function, largest first */
  topFunctions: [string, number][];
}

type Owner = { kind: 'special'; name: string } | { kind: 'internal' } | { kind: 'owned'; name: string };

/** Who a frame belongs to: a package, a project file, Node internals, or a V8 pseudo-frame. */
function ownerOf(url: string, functionName: string): Owner {
  if (url === '' && functionName.startsWith('(')) return { kind: 'special', name: functionName };
  if (url === '' || url.startsWith('node:')) return { kind: 'internal' };
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const parts = url.slice(nm + '/node_modules/'.length).split('/');
    return { kind: 'owned', name: parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]! };
  }
  // a project file, named from its top folder (whichever checkout ran it)
  const file = url.startsWith('file://') ? new URL(url).pathname : url;
  const m = /\/((?:producers|consumers|pipeline|schemas|cli|ops|dev)\/.*)$/.exec(file);
  return { kind: 'owned', name: m ? m[1]! : file };
}

/** The stage of an owner (a package name or a project-relative file). */
export function stageOf(owner: string): Stage {
  if (/^(pg|pg-protocol|pg-logical-replication|pg-types|pg-connection-string)$/.test(owner))
    return 'pg wire + pgoutput parse';
  if (/^producers\/postgres\/|^schemas\/(values|temporal|types|lsn)\.ts$/.test(owner))
    return 'row decode (assembler, values)';
  if (owner === 'avsc' || /^schemas\/(avro|codec|evolving-codec|tombstone|truncate)\.ts$/.test(owner))
    return 'Avro encode';
  if (owner === 'producers/publisher.ts') return 'publisher';
  if (owner === 'kafkajs') return 'kafkajs';
  if (owner.startsWith('producers/snapshot/')) return 'snapshot';
  if (/^(producers|pipeline|schemas|cli|ops)\//.test(owner)) return 'other pgcdc';
  return 'other packages';
}

// the publisher only: kafkajs also runs at start-up (connections, metadata), which would pull
// module loading and configuration parsing into the window
const MARKERS = /^producers\/publisher\.ts$/;

/**
 * Summarises a profile; `flowing` cuts the window to the samples from the first to the last one with a frame of
 * the publisher (start-up and the idle tail left out).
 */
export function summarizeProfile(p: CpuProfile, flowing = true): ProfileSummary {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const owners = new Map<number, Owner>();
  for (const n of p.nodes) owners.set(n.id, ownerOf(n.callFrame.url, n.callFrame.functionName));
  // charged owner per node: itself, or the nearest caller with an owner
  const charged = new Map<number, string>();
  const chargeOf = (id: number): string => {
    const known = charged.get(id);
    if (known !== undefined) return known;
    const o = owners.get(id)!;
    let name: string;
    if (o.kind === 'special') name = o.name;
    else if (o.kind === 'owned') name = o.name;
    else {
      const up = parent.get(id);
      name = up === undefined ? 'node internals' : chargeOf(up);
      if (name.startsWith('(')) name = 'node internals';
    }
    charged.set(id, name);
    return name;
  };
  const marked = new Map<number, boolean>();
  const hasMarker = (id: number): boolean => {
    const known = marked.get(id);
    if (known !== undefined) return known;
    const o = owners.get(id)!;
    const up = parent.get(id);
    const v = (o.kind === 'owned' && MARKERS.test(o.name)) || (up !== undefined && hasMarker(up));
    marked.set(id, v);
    return v;
  };
  // sample i lasts until sample i+1 (the last one: its own delta)
  const durations = p.samples.map((_, i) => (p.timeDeltas[i + 1] ?? p.timeDeltas[i] ?? 0) / 1000);
  let from = 0;
  let to = p.samples.length - 1;
  if (flowing) {
    const first = p.samples.findIndex((id) => hasMarker(id));
    if (first >= 0) {
      from = first;
      while (to > from && !hasMarker(p.samples[to]!)) to--;
    }
  }
  const byStage = Object.fromEntries(STAGES.map((s) => [s, 0])) as Record<Stage, number>;
  const byOwner = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let wallMs = 0;
  let busyMs = 0;
  for (let i = from; i <= to; i++) {
    const id = p.samples[i]!;
    const ms = durations[i]!;
    wallMs += ms;
    const owner = chargeOf(id);
    if (owner === '(idle)') continue;
    busyMs += ms;
    const stage: Stage =
      owner === '(garbage collector)'
        ? 'garbage collection'
        : owner === '(program)' || owner === '(root)'
          ? 'program (V8, native)'
          : owner === 'node internals'
            ? 'node internals'
            : stageOf(owner);
    byStage[stage] += ms;
    byOwner.set(owner, (byOwner.get(owner) ?? 0) + ms);
    const f = byId.get(id)!.callFrame;
    const fn = `${f.functionName || '(anonymous)'} ${f.url ? `${path.basename(f.url)}:${f.lineNumber + 1}` : '(native)'}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + ms);
  }
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]);
  return { wallMs, busyMs, byStage, byOwner: sorted(byOwner), topFunctions: sorted(byFunction).slice(0, 25) };
}

/** Several summaries (e.g. the rounds of one phase) added up. */
export function addSummaries(all: ProfileSummary[]): ProfileSummary {
  const byStage = Object.fromEntries(STAGES.map((s) => [s, 0])) as Record<Stage, number>;
  const owners = new Map<string, number>();
  const fns = new Map<string, number>();
  let wallMs = 0;
  let busyMs = 0;
  for (const s of all) {
    wallMs += s.wallMs;
    busyMs += s.busyMs;
    for (const st of STAGES) byStage[st] += s.byStage[st];
    for (const [o, ms] of s.byOwner) owners.set(o, (owners.get(o) ?? 0) + ms);
    for (const [f, ms] of s.topFunctions) fns.set(f, (fns.get(f) ?? 0) + ms);
  }
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]);
  return { wallMs, busyMs, byStage, byOwner: sorted(owners), topFunctions: sorted(fns).slice(0, 25) };
}

const pct = (x: number, of: number) => (of > 0 ? `${fmt((100 * x) / of, 1)} %` : 'n/a');

/** Markdown: busy share, stages (share of busy time), top owners and functions. */
export function renderProfileSummary(title: string, s: ProfileSummary): string {
  return [
    `### ${title}`,
    '',
    `wall ${fmt(s.wallMs / 1000, 2)} s, main thread busy ${fmt(s.busyMs / 1000, 2)} s (${pct(s.busyMs, s.wallMs)}), idle ${pct(s.wallMs - s.busyMs, s.wallMs)}`,
    '',
    markdownTable(
      ['stage', 'busy ms', 'share of busy'],
      STAGES.map((st) => [st, fmt(s.byStage[st], 0), pct(s.byStage[st], s.busyMs)]),
    ),
    '',
    markdownTable(
      ['owner (package or file)', 'busy ms', 'share of busy'],
      s.byOwner.slice(0, 15).map(([o, ms]) => [o, fmt(ms, 0), pct(ms, s.busyMs)]),
    ),
    '',
    markdownTable(
      ['function (self)', 'ms', 'share of busy'],
      s.topFunctions.map(([f, ms]) => [f, fmt(ms, 0), pct(ms, s.busyMs)]),
    ),
    '',
  ].join('\n');
}

/** A `.cpuprofile` file's summary. */
export function summarizeProfileFile(file: string, flowing = true): ProfileSummary {
  return summarizeProfile(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, flowing);
}

/**
 * The main-thread profile of each child folder in `dir` (one per child, named after its log: the
 * largest of its profiles; the others are tsx's loader thread) whose folder name matches each
 * group's pattern, each group's summaries added up and rendered (e.g. one group per pipeline and
 * phase of the bench's --source-only).
 */
export function renderProfileGroups(dir: string, groups: { title: string; match: RegExp }[]): string {
  if (!existsSync(dir)) return '';
  const mainProfile = (child: string): string | undefined => {
    const files = readdirSync(path.join(dir, child))
      .filter((f) => f.endsWith('.cpuprofile'))
      .map((f) => path.join(dir, child, f));
    return files.sort((a, b) => statSync(b).size - statSync(a).size)[0];
  };
  const children = readdirSync(dir).filter((f) => statSync(path.join(dir, f)).isDirectory());
  const out: string[] = [];
  for (const g of groups) {
    const mine = children
      .filter((c) => g.match.test(c))
      .flatMap((c) => {
        const file = mainProfile(c);
        return file ? [{ child: c, summary: summarizeProfileFile(file) }] : [];
      });
    if (mine.length === 0) continue;
    const s = addSummaries(mine.map((m) => m.summary));
    out.push(renderProfileSummary(`${g.title} (${mine.length} profile(s))`, s));
    if (mine.length > 1) out.push(renderPerChild(mine), '');
  }
  return out.join('\n');
}

/** One row per child (e.g. per round): does a later round spend more, and on which stage? */
export function renderPerChild(rows: { child: string; summary: ProfileSummary }[]): string {
  const s = (ms: number) => fmt(ms / 1000, 2);
  return markdownTable(
    ['child', 'wall s', 'busy s', ...STAGES],
    rows.map(({ child, summary }) => [
      child,
      s(summary.wallMs),
      s(summary.busyMs),
      ...STAGES.map((st) => s(summary.byStage[st])),
    ]),
  );
}
