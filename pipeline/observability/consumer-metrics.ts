// The consumer group loop's stage timings (consumers/group/stages.ts), part of the process's one
// registry (metrics.ts): where a target's consumer spends its time between Kafka and the target,
// in buckets fine enough for milliseconds (docs/performance.md reads them per bench phase).
import { Histogram, type Registry } from 'prom-client';

export function consumerMetrics(registry: Registry) {
  return {
    consumerStage: new Histogram({
      name: 'pgcdc_consumer_stage_seconds',
      help: "Where a target's consumer spends its time, per stage: kafka-wait (the oldest message of a batch, from its Kafka timestamp to the consumer loop), source-to-loop (the first event of a chunk, from its source commit to the consumer loop), decode, apply (with retries), offset-commit",
      labelNames: ['target', 'stage'] as const,
      buckets: [
        0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1, 0.25,
        0.5, 1, 2.5, 5, 10,
      ],
      registers: [registry],
    }),
  };
}
