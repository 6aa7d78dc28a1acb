// Reads the delete markers and the truncate mark of a MySQL target within the batch's transaction:
// which upserts are superseded (a marker of their key or the table's truncate mark at or after
// their position: the row was deleted later, so they must not bring it back), and whether a
// partial update that changed nothing hit a missing row (a dead letter) or a superseded one (fine).
// The set-based path judges in SQL, in its one round trip: every upsert is written, then the rows a
// marker or the mark supersedes are removed again (supersededRowsSql); the per-event path reads
// the marks as it goes and judges before writing (MarkReader: markReads, MarkSnapshot, pure).
import type { ChangeEvent, Row } from '../../schemas/contract.ts';
import { keyIn, markersOfSql, readMarkSql, rowPositionsSql, type Statement } from './sql.ts';
import { MARK_ONE, POS_LSN, POS_SEQ, deletedName, q, truncatedName, type MysqlTable } from './table.ts';

type Rows = Record<string, unknown>[];
interface Pos {
  lsn: bigint;
  seq: bigint;
}
type Item = { key: Row; event: ChangeEvent };

const posOf = (r: Record<string, unknown>): Pos => ({
  lsn: BigInt(String(r[POS_LSN])),
  seq: BigInt(String(r[POS_SEQ])),
});
/** a at or after b */
const atOrAfter = (a: Pos, b: Pos) => a.lsn > b.lsn || (a.lsn === b.lsn && a.seq >= b.seq);
const eventPos = (e: ChangeEvent): Pos => ({ lsn: e.source.commit_lsn, seq: e.source.seq });
const keyString = (t: MysqlTable, r: Row | Record<string, unknown>): string =>
  t.keyColumns.map((k) => String(r[k])).join('\u0000');

/**
 * The reads that judge `items`: the truncate mark (under a shared lock: a concurrent truncate waits
 * for this batch), then the delete markers of the items' keys when there are any.
 */
export function markReads(t: MysqlTable, items: Item[]): Statement[] {
  const out: Statement[] = [{ sql: readMarkSql(t), values: [] }];
  if (items.length > 0)
    out.push(
      markersOfSql(
        t,
        items.map((i) => i.key),
      ),
    );
  return out;
}

/** What markReads returned, judging items by their positions. Pure. */
export class MarkSnapshot {
  private readonly mark: Pos | undefined;
  private readonly markers = new Map<string, Pos>();

  constructor(
    private readonly t: MysqlTable,
    markRows: Rows,
    markerRows: Rows = [],
  ) {
    this.mark = markRows[0] ? posOf(markRows[0]) : undefined;
    for (const r of markerRows) this.markers.set(keyString(t, r), posOf(r));
  }

  /** Indexes of the items that no marker of their key and no truncate mark supersedes. */
  notSuperseded(items: Item[]): number[] {
    const out: number[] = [];
    items.forEach((item, i) => {
      const p = eventPos(item.event);
      const m = this.markers.get(keyString(this.t, item.key));
      if (this.mark && atOrAfter(this.mark, p)) return;
      if (m && atOrAfter(m, p)) return;
      out.push(i);
    });
    return out;
  }
}

export class MarkReader {
  constructor(
    private readonly t: MysqlTable,
    private readonly query: (st: Statement | string) => Promise<Rows>,
  ) {}

  /** Indexes of the items that no marker of their key and no truncate mark supersedes. */
  async notSuperseded(items: Item[]): Promise<number[]> {
    if (items.length === 0) return [];
    const [mark, markers] = markReads(this.t, items);
    const snapshot = new MarkSnapshot(this.t, await this.query(mark!), await this.query(markers!));
    return snapshot.notSuperseded(items);
  }

  /**
   * Partial updates of which some changed nothing: is the row of any of them missing (true), or
   * were those rows newer, or deleted or truncated later?
   */
  async missing(items: Item[]): Promise<boolean> {
    const present = new Set(
      (
        await this.query(
          rowPositionsSql(
            this.t,
            items.map((i) => i.key),
          ),
        )
      ).map((r) => keyString(this.t, r)),
    );
    const absent = items.filter((i) => !present.has(keyString(this.t, i.key)));
    return absent.length > 0 && (await this.notSuperseded(absent)).length > 0;
  }
}

/**
 * Run right after a batch's upsert of these keys (all their rows written, guarded): removes the
 * rows a delete marker or the truncate mark supersedes, i.e. whose position is at or before the
 * key's delete or the table's truncate: an upsert older than a later delete or truncate must not
 * bring the row back (what MarkSnapshot judges before writing, judged here in the same round trip).
 * A row newer than both stays; no older row exists (a delete or a truncate removes the rows older
 * than it), so only rows this upsert wrote can go.
 */
export function supersededRowsSql(t: MysqlTable, keys: Row[]): Statement {
  const values: unknown[] = [];
  const on = t.keyColumns.map((k) => `d.${q(k)} = u.${q(k)}`).join(' AND ');
  const pos = (a: string) => `(${a}.${q(POS_LSN)}, ${a}.${q(POS_SEQ)})`;
  return {
    sql:
      `DELETE u FROM ${q(t.table)} AS u JOIN ${q(truncatedName(t))} AS m ON m.${q(MARK_ONE)} = 1 ` +
      `LEFT JOIN ${q(deletedName(t))} AS d ON ${on} ` +
      `WHERE ${keyIn(t, keys, values, 'u.')} AND (${pos('u')} <= ${pos('m')} OR ${pos('u')} <= ${pos('d')})`,
    values,
  };
}
