// The text form of a reconcile report (the --json form is the report itself). Pure.
import type { ReconcileReport, TableReport } from './index.ts';

function table(t: TableReport): string[] {
  const lines = [
    `${t.table} -> ${t.at}: ${t.compared} rows compared in ${t.chunks} chunks (${t.chunksRead} read row by row), ${t.seconds.toFixed(1)} s`,
    `  missing ${t.missing}, extra ${t.extra.owned} owned + ${t.extra.foreign} foreign, differing ${t.differing}` +
      (t.unsettled ? `, undecided ${t.unsettled} (still changing, or the target did not catch up)` : '') +
      (t.unmappable ? `, unmappable at the source ${t.unmappable}` : ''),
  ];
  const s = t.samples;
  if (s.missing.length) lines.push(`  missing at the target: ${s.missing.join(', ')}`);
  if (s.extra.length)
    lines.push(
      `  extra at the target: ${s.extra.map((e) => `${e.key}${e.owned ? '' : ' (foreign)'}`).join(', ')}`,
    );
  for (const d of s.differing) lines.push(`  differs: ${d.key}: ${d.columns.join(', ')}`);
  if (Object.keys(t.differingColumns).length)
    lines.push(
      `  columns that differ: ${Object.entries(t.differingColumns)
        .map(([c, n]) => `${c} (${n})`)
        .join(', ')}`,
    );
  if (s.unsettled.length) lines.push(`  undecided: ${s.unsettled.join(', ')}`);
  if (t.repaired)
    lines.push(
      `  repaired: ${t.repaired.fed} rows fed again (op=r${t.repaired.feedId ? `, ${t.repaired.feedId}` : ''}), ${t.repaired.removed} extra rows removed`,
    );
  return lines;
}

export function formatReport(r: ReconcileReport): string {
  const verdict = r.drift
    ? 'DRIFT: the target does not hold what the source holds'
    : r.undecided
      ? 'no drift found, but some rows could not be decided'
      : 'no drift: the target holds what the source holds';
  return [
    `reconcile of target ${r.target}: ${verdict} (${r.seconds.toFixed(1)} s)`,
    ...r.tables.flatMap(table),
  ].join('\n');
}
