// Text rendering of the operators' commands (status, replay plan, check results, slots). Pure:
// takes what the commands gathered and `now`, returns lines. `--json` prints the data instead.
import type { SlotRow } from '../producers/postgres/slots.ts';
import type { CheckResult } from './check/types.ts';
import type { ReplayPlan } from './replay.ts';
import { reconcileLine, type PipelineStatus, type TargetView } from './status.ts';

export function ago(iso: string | null, nowMs: number): string {
  if (!iso) return 'never';
  const s = Math.round((nowMs - Date.parse(iso)) / 1000);
  if (s < 0) return iso;
  if (s < 120) return `${iso} (${s} s ago)`;
  if (s < 7200) return `${iso} (${Math.round(s / 60)} min ago)`;
  return `${iso} (${(s / 3600).toFixed(1)} h ago)`;
}

const bytes = (n: number | null) => (n === null ? '?' : formatBytes(n));
const pad = (s: string, n: number) => (s.length >= n ? s : s + ' '.repeat(n - s.length));

/** JSON with bigints as strings. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2);
}

export function formatStatus(st: PipelineStatus, nowMs: number): string {
  const L: string[] = [];
  const p = st.producer;
  const I = ' '.repeat(11);
  L.push(`pgcdc status at ${st.generatedAt}`, '');
  if (p.error) L.push(`producer   slot ${p.slot}: ${p.error}`);
  else if (!p.exists) L.push(`producer   slot ${p.slot} does not exist (created by the first pgcdc produce)`);
  else {
    L.push(
      `producer   slot ${p.slot} (${p.plugin}) ${p.active ? `active, streamed by pid ${p.activePid}` : 'NOT active: no producer streams it'}${p.walStatus && p.walStatus !== 'reserved' ? `, wal_status ${p.walStatus}` : ''}`,
      `${I}confirmed flush LSN ${p.confirmedFlushLsn ?? '?'} (server at ${p.currentWalLsn ?? '?'}); WAL retained ${bytes(p.walRetainedBytes)}, not yet confirmed ${bytes(p.confirmedFlushLagBytes)}`,
    );
    if (p.walRisk) L.push(`${I}WARNING: ${p.walRisk}`);
  }
  if (p.reportedAt) {
    L.push(
      `${I}last event ${ago(p.lastEventAt, nowMs)}`,
      `${I}producer ${p.running ? 'running' : 'not running'} as reported ${ago(p.reportedAt, nowMs)} by ${p.reportedBy}${p.lastError ? `; last error: ${p.lastError}` : ''}`,
    );
  } else {
    L.push(`${I}no producer has reported status yet (${st.statusTopic.name})`);
  }
  if (p.snapshot) {
    const s = p.snapshot;
    const rows =
      s.rowsDone !== undefined
        ? `, ${s.rowsDone}${s.rowsTotal != null ? ` of ~${s.rowsTotal}` : ''} rows`
        : '';
    L.push(
      `${I}snapshot ${s.state}${rows}${s.startedAt ? `, started ${s.startedAt}` : ''}${s.finishedAt ? `, finished ${s.finishedAt}` : ''}`,
    );
  }
  if (st.statusTopic.error)
    L.push(`${I}status topic ${st.statusTopic.name} unreadable: ${st.statusTopic.error}`);
  // one line per captured table's topic (docs/tables.md)
  for (const topic of st.topics ?? [st.topic]) {
    if (topic.error) L.push(`topic      ${topic.name}: ${topic.error}`);
    else {
      const total = topic.partitions.reduce((n, x) => n + Number(BigInt(x.high) - BigInt(x.low)), 0);
      L.push(
        `topic      ${topic.name}: ${topic.partitions.length} partitions, ${total} messages held (${topic.partitions.map((x) => `p${x.partition} ${x.low}..${x.high}`).join(', ')})`,
      );
    }
  }
  for (const t of st.targets) L.push('', ...formatTarget(t, nowMs));
  if (st.targets.length === 0) L.push('', 'no targets configured');
  return L.join('\n');
}

function formatTarget(t: TargetView, nowMs: number): string[] {
  const I = ' '.repeat(11);
  const L = [
    `target     ${t.name} (${t.type})  ${t.lastStatus ?? 'no status reported yet'}${t.state && t.state !== t.lastStatus ? ` [${t.state}]` : ''}`,
  ];
  if (t.error) L.push(`${I}${t.error}`);
  if (t.groupState !== null) {
    const members = t.members.length
      ? `${t.members.length} member(s): ${t.members.map((m) => `${m.clientId}@${m.host}`).join(', ')}`
      : 'no active members';
    L.push(`${I}group ${t.group} ${t.groupState}, ${members}`);
  }
  if (t.totalLag !== null)
    L.push(
      `${I}lag ${t.totalLag} events (${t.lag.map((x) => `${x.topic ? `${x.topic.split('.').pop()}:` : ''}p${x.partition} ${x.lag}`).join(', ')})`,
    );
  const la = t.lastApplied;
  L.push(
    la.offset !== null
      ? `${I}last applied: partition ${la.partition} offset ${la.offset}, source commit ${la.sourceCommitTime}, applied ${ago(la.at, nowMs)}`
      : `${I}last applied: nothing yet`,
  );
  if (t.applied !== null)
    L.push(
      `${I}applied ${t.applied}, failed ${t.failed}, dead-lettered ${t.deadLettered} since ${t.countingSince}`,
    );
  if (t.lastError)
    L.push(`${I}last error ${ago(t.lastErrorAt, nowMs)}: ${t.lastError.replace(/\n\s*/g, ' ')}`);
  if (t.reportedAt) L.push(`${I}reported ${ago(t.reportedAt, nowMs)} by ${t.reportedBy}`);
  if (t.lastReconcile) L.push(`${I}${reconcileLine(t.lastReconcile, (iso) => ago(iso, nowMs))}`);
  return L;
}

export function formatPlan(plan: ReplayPlan, mode: 'dry-run' | 'done'): string {
  const L: string[] = [];
  const members = plan.members.length ? `${plan.members.length} active member(s)` : 'no active members';
  L.push(
    `replay target ${plan.target} to ${plan.to}: topic ${plan.topic}, group ${plan.group} (${plan.groupState}, ${members})${mode === 'dry-run' ? '  [dry run: nothing moved]' : ''}`,
    '',
  );
  const rows = plan.partitions.map((p) => {
    const moved = `${p.committed < 0n ? `(none: ${p.current})` : p.current} -> ${p.next}`;
    const effect = p.replays > 0n ? `replays ${p.replays}` : p.skips > 0n ? `SKIPS ${p.skips}` : 'unchanged';
    const first = p.first
      ? `offset ${p.first.offset}: op ${p.first.op}${p.first.snapshot ? ' (snapshot)' : ''}, source commit ${p.first.commitTime}, LSN ${p.first.lsn} (commit LSN ${p.first.commitLsn})`
      : p.firstError
        ? `(${p.firstError})`
        : p.next >= p.high
          ? '(nothing: at the end)'
          : '';
    return [String(p.partition), moved, effect, first];
  });
  const head = ['partition', 'current -> new', 'events', 'first event applied after the move'];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const r of [head, ...rows])
    L.push(
      r
        .map((c, i) => (i < 3 ? pad(c, w[i]!) : c))
        .join('  ')
        .trimEnd(),
    );
  L.push('');
  const upTo = plan.compacted ? 'up to ' : '';
  const c = plan.counted;
  const rest = c
    ? [
        c.tombstones > 0n
          ? `${c.tombstones} tombstone(s), which follow deletes so compaction can drop the key and apply nothing`
          : '',
        c.compactedAway > 0n ? `${c.compactedAway} compacted away` : '',
      ].filter(Boolean)
    : [];
  const applied = c ? `${c.events} events` : `${upTo}${plan.totalReplays} events`;
  const again =
    plan.totalReplays === 0n && plan.totalSkips > 0n
      ? 'nothing applied again'
      : `${applied} ${mode === 'dry-run' ? 'would be' : 'will be'} applied again`;
  L.push(
    `total: ${again}` +
      (rest.length ? ` (of ${plan.totalReplays} offsets: ${rest.join('; ')})` : '') +
      (plan.totalSkips > 0n
        ? `, ${upTo}${plan.totalSkips} events ${mode === 'dry-run' ? 'would be' : 'are'} SKIPPED (never applied)`
        : '') +
      (plan.compacted && !c
        ? ' (compacted topic: offsets whose message was compacted away replay nothing)'
        : ''),
  );
  return L.join('\n');
}

export function formatChecks(results: CheckResult[]): string {
  const w = Math.max(...results.map((r) => r.id.length));
  return results
    .map(
      (r) =>
        `${pad(r.level, 5)}  ${pad(r.id, w)}  ${r.message.replace(/\n\s*/g, ' ')}${r.fix ? `  -> fix: ${r.fix}` : ''}`,
    )
    .join('\n');
}

export function formatSlots(list: { currentWalLsn: string; slots: SlotRow[] }, configured: string): string {
  const head = ['slot', 'plugin', 'database', 'active', 'confirmed flush', 'WAL retained', 'wal_status'];
  const rows = list.slots.map((s) => [
    s.name + (s.name === configured ? ' *' : ''),
    s.plugin ?? s.slotType,
    s.database ?? '-',
    s.active ? `yes (pid ${s.activePid})` : 'no',
    s.confirmedFlushLsn ?? '-',
    bytes(s.retainedBytes),
    s.walStatus ?? '-',
  ]);
  if (rows.length === 0) return `no replication slots (server WAL at ${list.currentWalLsn})`;
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [
    ...[head, ...rows].map((r) =>
      r
        .map((c, i) => pad(c, w[i]!))
        .join('  ')
        .trimEnd(),
    ),
    '',
    `server WAL at ${list.currentWalLsn}; * = the slot of this configuration`,
  ].join('\n');
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}
