// Reads the delete markers and the truncate mark of a MySQL target within the batch's transaction:
// which upserts are superseded (a marker of their key or the table's truncate mark at or after
// their position: the row was deleted later, so they must not bring it back), and whether a
// partial update that changed nothing hit a missing row (a dead letter) or a superseded one (fine).
import type { ChangeEvent, Row } from '../../schemas/contract.ts';
import { markersOfSql, readMarkSql, rowPositionsSql, type Statement } from './sql.ts';
import { POS_LSN, POS_SEQ, type MysqlTable } from './table.ts';

type Rows = Record<string, unknown>[];
interface Pos {
  lsn: bigint;
  seq: bigint;
}

const posOf = (r: Record<string, unknown>): Pos => ({
  lsn: BigInt(String(r[POS_LSN])),
  seq: BigInt(String(r[POS_SEQ])),
});
/** a at or after b */
const atOrAfter = (a: Pos, b: Pos) => a.lsn > b.lsn || (a.lsn === b.lsn && a.seq >= b.seq);
const eventPos = (e: ChangeEvent): Pos => ({ lsn: e.source.commit_lsn, seq: e.source.seq });

export class MarkReader {
  constructor(
    private readonly t: MysqlTable,
    private readonly query: (st: Statement | string) => Promise<Rows>,
  ) {}

  private keyString(r: Row | Record<string, unknown>): string {
    return this.t.keyColumns.map((k) => String(r[k])).join('\u0000');
  }

  /** The truncate mark, read under a shared lock (a concurrent truncate waits for this batch). */
  private async mark(): Promise<Pos | undefined> {
    const [r] = await this.query(readMarkSql(this.t));
    return r ? posOf(r) : undefined;
  }

  /** Indexes of the items that no marker of their key and no truncate mark supersedes. */
  async notSuperseded(items: { key: Row; event: ChangeEvent }[]): Promise<number[]> {
    if (items.length === 0) return [];
    const mark = await this.mark();
    const markers = new Map<string, Pos>();
    for (const r of await this.query(
      markersOfSql(
        this.t,
        items.map((i) => i.key),
      ),
    ))
      markers.set(this.keyString(r), posOf(r));
    const out: number[] = [];
    items.forEach((item, i) => {
      const p = eventPos(item.event);
      const m = markers.get(this.keyString(item.key));
      if (mark && atOrAfter(mark, p)) return;
      if (m && atOrAfter(m, p)) return;
      out.push(i);
    });
    return out;
  }

  /**
   * Partial updates of which some changed nothing: is the row of any of them missing (true), or
   * were those rows newer, or deleted or truncated later?
   */
  async missing(items: { key: Row; event: ChangeEvent }[]): Promise<boolean> {
    const present = new Set(
      (
        await this.query(
          rowPositionsSql(
            this.t,
            items.map((i) => i.key),
          ),
        )
      ).map((r) => this.keyString(r)),
    );
    const absent = items.filter((i) => !present.has(this.keyString(i.key)));
    return absent.length > 0 && (await this.notSuperseded(absent)).length > 0;
  }
}
