// Reads the delete markers and the truncate mark of a MySQL target within the batch's transaction:
// which upserts are superseded (a marker of their key or the table's truncate mark at or after
// their position: the row was deleted later, so they must not bring it back), and whether a
// partial update that changed nothing hit a missing row (a dead letter) or a superseded one (fine).
// The set-based path sends the two reads in its first round trip (markReads) and judges from what
// they returned (MarkSnapshot, pure); the per-event path queries as it goes (MarkReader).
import type { ChangeEvent, Row } from '../../schemas/contract.ts';
import { markersOfSql, readMarkSql, rowPositionsSql, type Statement } from './sql.ts';
import { POS_LSN, POS_SEQ, type MysqlTable } from './table.ts';

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

  /**
   * Is the row of a partial update missing (not among `rows`, the rows of the items' keys) where
   * no marker of its key and no truncate mark supersedes the update? (A per-event matter then.)
   */
  missing(items: Item[], rows: Rows): boolean {
    const present = new Set(rows.map((r) => keyString(this.t, r)));
    const absent = items.filter((i) => !present.has(keyString(this.t, i.key)));
    return absent.length > 0 && this.notSuperseded(absent).length > 0;
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
