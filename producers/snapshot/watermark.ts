// The snapshot's markers in the WAL and the visibility rule it relies on. Pure.
//
// Watermarks are non-transactional logical messages `pgcdc.watermark` with content
// `<snapshotId>:<chunk>:low|high`; they reach the producer's replication stream in WAL order,
// between the transactions committed before and after them. A chunk id is `<run>.<n>`: `run`
// counts the producer runs that worked on the snapshot (stored in the checkpoint), so a restarted
// producer never takes the watermarks of the run before it, re-read from the slot, for its own. A `pgcdc.signal` message (content
// `snapshot` or `snapshot-restart`) wakes a running producer so it looks at its checkpoint row.
//
// pg_current_snapshot() of the chunk's SELECT tells which transactions the SELECT saw: a live
// change from a transaction the SELECT did not see is newer than the chunk's row and wins.

export const WATERMARK_PREFIX = 'pgcdc.watermark';
export const SIGNAL_PREFIX = 'pgcdc.signal';

export type WatermarkEdge = 'low' | 'high';

export interface Watermark {
  snapshotId: string;
  /** `<run>.<n>` */
  chunk: string;
  edge: WatermarkEdge;
}

export function chunkId(run: number, n: number): string {
  return `${run}.${n}`;
}

const SNAPSHOT_ID = /^[A-Za-z0-9_-]{1,64}$/;
const CHUNK_ID = /^\d{1,15}\.\d{1,15}$/;

export function isSnapshotId(id: string): boolean {
  return SNAPSHOT_ID.test(id);
}

export function formatWatermark(w: Watermark): string {
  if (!isSnapshotId(w.snapshotId)) throw new Error(`invalid snapshot id "${w.snapshotId}"`);
  if (!CHUNK_ID.test(w.chunk)) throw new Error(`invalid chunk id "${w.chunk}"`);
  return `${w.snapshotId}:${w.chunk}:${w.edge}`;
}

/** `<snapshotId>:<chunk>:low|high` -> Watermark; undefined for anything else. */
export function parseWatermark(content: string): Watermark | undefined {
  const m = /^([A-Za-z0-9_-]{1,64}):(\d{1,15}\.\d{1,15}):(low|high)$/.exec(content);
  if (!m) return undefined;
  return { snapshotId: m[1]!, chunk: m[2]!, edge: m[3] as WatermarkEdge };
}

/** A PostgreSQL snapshot (pg_current_snapshot()): xids are 64-bit (epoch-qualified). */
export interface PgSnapshot {
  xmin: bigint;
  xmax: bigint;
  xip: ReadonlySet<bigint>;
}

/** `xmin:xmax:xip1,xip2,...` (pg_snapshot text form) -> PgSnapshot. */
export function parsePgSnapshot(text: string): PgSnapshot {
  const m = /^(\d+):(\d+):([\d,]*)$/.exec(text.trim());
  if (!m) throw new Error(`invalid pg_snapshot "${text}"`);
  const xip = new Set(m[3] ? m[3].split(',').map((x) => BigInt(x)) : []);
  return { xmin: BigInt(m[1]!), xmax: BigInt(m[2]!), xip };
}

const TWO_32 = 1n << 32n;
const TWO_31 = 1n << 31n;

/**
 * pgoutput carries 32-bit xids; a snapshot carries 64-bit ones. The 32-bit xid of a transaction
 * near the snapshot maps to the 64-bit xid within 2^31 of the snapshot's xmax.
 */
export function widenXid(xid32: bigint, near: bigint): bigint {
  let x = (near & ~(TWO_32 - 1n)) | (xid32 & (TWO_32 - 1n));
  if (x > near + TWO_31) x -= TWO_32;
  else if (x < near - TWO_31) x += TWO_32;
  return x;
}

/** Did a SELECT under `snap` see the effects of (committed) transaction `xid32`? */
export function visibleIn(snap: PgSnapshot, xid32: bigint): boolean {
  const xid = widenXid(xid32, snap.xmax);
  if (xid < snap.xmin) return true;
  return xid < snap.xmax && !snap.xip.has(xid);
}

/** True when no later snapshot can have `xid32` in progress (it finished before `snap` was taken). */
export function finishedBefore(snap: PgSnapshot, xid32: bigint): boolean {
  return widenXid(xid32, snap.xmax) < snap.xmin;
}
