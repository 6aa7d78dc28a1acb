// Stage timings of the consumer group loop (pgcdc_consumer_stage_seconds{target, stage}), to see
// where the time between Kafka and the target goes: how long a batch's oldest message waited in
// Kafka before the loop got it (kafka-wait: for a consumer that keeps up, fetch wait plus the
// batches handled before it), a chunk's first event from its source commit to the loop
// (source-to-loop), decode, apply (the sink's transaction, with retries) and the offset commit.
// Observation only: nothing here changes what the loop does.
import type { PartitionBatch } from '../../pipeline/kafka/port.ts';
import type { Metrics } from '../../pipeline/observability/metrics.ts';
import type { DecodedEvent } from '../sink.ts';

export type ConsumerStage = 'kafka-wait' | 'source-to-loop' | 'decode' | 'apply' | 'offset-commit';

export function stageTimings(metrics: Pick<Metrics, 'consumerStage'>, target: string) {
  const observe = (stage: ConsumerStage, seconds: number) =>
    metrics.consumerStage.observe({ target, stage }, Math.max(0, seconds));
  const since = (start: bigint, now = process.hrtime.bigint()) => Number(now - start) / 1e9;
  return {
    /** a partition batch reached the loop */
    batch(b: PartitionBatch): void {
      const oldest = b.messages[0];
      if (oldest) observe('kafka-wait', (Date.now() - oldest.timestampMs) / 1000);
    },
    /** a chunk is decoded (started: process.hrtime.bigint() before); returns the time it was */
    decoded(started: bigint, events: readonly DecodedEvent[]): bigint {
      const now = process.hrtime.bigint();
      observe('decode', since(started, now));
      const first = events[0]?.event;
      if (first) observe('source-to-loop', Date.now() / 1000 - Number(first.source.ts_us) / 1e6);
      return now;
    },
    /** a chunk is applied (decoded: what decoded() returned) */
    applied(decoded: bigint): void {
      observe('apply', since(decoded));
    },
    /** an offset commit was acknowledged (an arrow: handed over as a callback) */
    committed: (seconds: number): void => observe('offset-commit', seconds),
  };
}
