// Where a snapshot's time goes, per stage, summed over its chunks (milliseconds of wall time):
// the chunk loop's own steps, which follow one another (`read` = `query` + `decode`, then
// `window`, then `gate`), the stream's (`emit`: the chunk's rows turned into events at its high
// watermark; `held`: the stream held at a high watermark by the gate), and two latencies that
// overlap the loop (`ack`: from a chunk's window closing to Kafka's acknowledgement of its high
// watermark; `checkpoint`: the checkpoint write). Reported with the snapshot's end (runner.ts,
// chunks.ts) so that an operator, and the bench, can tell a snapshot waiting on the source, on
// the replication stream or on Kafka from one busy encoding. Measuring only: nothing waits on it.

export const SNAPSHOT_STAGES = [
  'query',
  'decode',
  'window',
  'gate',
  'emit',
  'held',
  'ack',
  'checkpoint',
] as const;

export type SnapshotStage = (typeof SNAPSHOT_STAGES)[number];

export class StageTimings {
  private readonly ms = new Map<SnapshotStage, number>();

  constructor(private readonly clock: () => number = () => performance.now()) {}

  now(): number {
    return this.clock();
  }

  add(stage: SnapshotStage, ms: number): void {
    this.ms.set(stage, (this.ms.get(stage) ?? 0) + ms);
  }

  /** Adds the time from `since` (a now()) until now to `stage`. */
  since(stage: SnapshotStage, since: number): void {
    this.add(stage, this.clock() - since);
  }

  /** Times `work` under `stage`, whichever way it settles. */
  async time<T>(stage: SnapshotStage, work: Promise<T>): Promise<T> {
    const t = this.clock();
    try {
      return await work;
    } finally {
      this.since(stage, t);
    }
  }

  /** Whole milliseconds per stage (stages not seen are 0), in SNAPSHOT_STAGES order. */
  totals(): Record<SnapshotStage, number> {
    const out = {} as Record<SnapshotStage, number>;
    for (const s of SNAPSHOT_STAGES) out[s] = Math.round(this.ms.get(s) ?? 0);
    return out;
  }

  reset(): void {
    this.ms.clear();
  }
}
