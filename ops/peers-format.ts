// Text rendering of `pgcdc status` for a peers mesh (ops/peers-status.ts): a few lines per node
// (slot, producer, topic, conflicts logged there) and one table row per link (state, lag, what it
// last applied, conflicts and the last one), then each link's error. Pure; `--json` prints the data.
import { ago, formatBytes } from './format.ts';
import type { PeerLinkView, PeerNodeView, PeersStatus } from './peers-status.ts';

const I = ' '.repeat(11);
const pad = (s: string, n: number) => (s.length >= n ? s : s + ' '.repeat(n - s.length));
const bytes = (n: number | null) => (n === null ? '?' : formatBytes(n));

export function formatPeersStatus(s: PeersStatus, nowMs: number): string {
  const L = [`pgcdc status of mesh ${s.mesh} (${s.policy}) at ${s.generatedAt}`, ''];
  for (const n of s.nodes) L.push(...formatNode(n, nowMs), '');
  L.push(...formatLinks(s.links, nowMs));
  return L.join('\n');
}

function formatNode(n: PeerNodeView, nowMs: number): string[] {
  const p = n.producer;
  const L = [`node ${pad(n.name, 6)}priority ${n.priority}, ${n.url}`];
  if (p.error) L.push(`${I}slot ${p.slot}: ${p.error}`);
  else if (!p.exists) L.push(`${I}slot ${p.slot} does not exist (created by the first pgcdc peers run)`);
  else
    L.push(
      `${I}slot ${p.slot} ${p.active ? `active (pid ${p.activePid})` : 'NOT active: no producer streams it'}, confirmed ${p.confirmedFlushLsn ?? '?'} of ${p.currentWalLsn ?? '?'}, not yet confirmed ${bytes(p.confirmedFlushLagBytes)}`,
    );
  if (p.walRisk) L.push(`${I}WARNING: ${p.walRisk}`);
  L.push(
    p.reportedAt
      ? `${I}producer ${p.running ? 'running' : 'not running'} (reported ${ago(p.reportedAt, nowMs)}), last event ${ago(p.lastEventAt, nowMs)}${p.lastError ? `; last error: ${p.lastError}` : ''}`
      : `${I}no producer has reported status yet (${n.statusTopic.name})`,
  );
  const t = n.topic;
  if (t.error) L.push(`${I}topic ${t.name}: ${t.error}`);
  else {
    const held = t.partitions.reduce((x, q) => x + Number(BigInt(q.high) - BigInt(q.low)), 0);
    L.push(`${I}topic ${t.name}: ${held} events held`);
  }
  L.push(
    `${I}conflicts logged here: ${n.conflicts ?? `unreadable${n.conflictsError ? ` (${n.conflictsError})` : ''}`}`,
  );
  return L;
}

function formatLinks(links: PeerLinkView[], nowMs: number): string[] {
  const head = [
    'link',
    'state',
    'lag',
    'last applied (source commit)',
    'applied',
    'conflicts',
    'last conflict',
  ];
  const rows = links.map((l) => [
    `${l.from} -> ${l.to}`,
    l.error
      ? 'UNREADABLE'
      : `${l.lastStatus ?? 'no status'}${l.state && l.state !== l.lastStatus ? ` [${l.state}]` : ''}`,
    l.totalLag === null ? '?' : String(l.totalLag),
    l.lastApplied.sourceCommitTime ?? 'nothing yet',
    l.applied === null ? '?' : String(l.applied),
    l.conflicts === null ? '?' : String(l.conflicts),
    l.lastConflict
      ? `${l.lastConflict.kind} ${l.lastConflict.resolution} key ${JSON.stringify(l.lastConflict.key)}, ${ago(l.lastConflict.at, nowMs)}`
      : '-',
  ]);
  if (rows.length === 0) return ['no links (fewer than two nodes answered)'];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const L = [head, ...rows].map((r) =>
    r
      .map((c, i) => (i < r.length - 1 ? pad(c, w[i]!) : c))
      .join('  ')
      .trimEnd(),
  );
  for (const l of links) {
    const why =
      l.error ?? (l.lastError ? `last error ${ago(l.lastErrorAt, nowMs)}: ${l.lastError}` : undefined);
    if (why) L.push(`${l.from} -> ${l.to}: ${why.replace(/\n\s*/g, ' ')}`);
  }
  return L;
}
