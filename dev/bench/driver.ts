// What the benchmark needs from a pipeline under test (ours, or Debezium on Kafka Connect): start
// and stop its source side (slot -> Kafka) and its sink side (Kafka -> peer Postgres) on one
// round's objects, and name the processes whose CPU and memory are measured.
import type { Child } from './proc.ts';

export interface Round {
  /** unique per round: bench_<run>_<pipeline>_<n> */
  id: string;
  adminUrl: string;
  sourceDb: string;
  sourceUrl: string;
  peerDb: string;
  peerUrl: string;
  slot: string;
  publication: string;
  topicPrefix: string;
  /** feed existing rows first (snapshot) instead of streaming only */
  snapshot: boolean;
}

export interface PipelineDriver {
  readonly name: string;
  /** the change topic of a round */
  topic(r: Round): string;
  /** the consumer group of the peer sink */
  sinkGroup(r: Round): string;
  /** the peer column holding the time each row was written there */
  readonly syncedColumn: string;
  /** e.g. Debezium: stamp apply times in the peer table it will create */
  preparePeer(r: Round): Promise<void>;
  startSource(r: Round): Promise<void>;
  stopSource(): Promise<void>;
  startSink(r: Round): Promise<void>;
  stopSink(): Promise<void>;
  /** processes doing the work right now (CPU is summed over them) */
  processes(): Child[];
  /** peak RSS (MiB) per process seen so far */
  peakRss(): Record<string, number>;
  /** one-line description of the versions and settings, for the report */
  describe(): string;
  close(): Promise<void>;
}

/** Remembers the highest VmHWM seen per process name. */
export class PeakTracker {
  private readonly peaks: Record<string, number> = {};
  note(c: Child | undefined): void {
    const v = c?.peakRssMb();
    if (c && v !== undefined) this.peaks[c.name] = Math.max(this.peaks[c.name] ?? 0, v);
  }
  all(): Record<string, number> {
    return { ...this.peaks };
  }
}
