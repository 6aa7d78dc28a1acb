// Prometheus metrics of the pipeline (prom-client). One registry per process; names carry the
// pgcdc_ prefix, base units and bounded labels (never a user id). A gauge never ends in _total
// (that suffix means a counter). The default process metrics keep their stock names
// (process_cpu_seconds_total, nodejs_heap_size_used_bytes, ...) so stock Node.js dashboards match.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { consumerMetrics } from './consumer-metrics.ts';
import { reconcileMetrics } from './reconcile-metrics.ts';

function pipelineMetrics(opts: { defaults?: boolean }) {
  const registry = new Registry();
  if (opts.defaults) collectDefaultMetrics({ register: registry });
  const latencyBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
  return {
    registry,
    sourceEvents: new Counter({
      name: 'pgcdc_source_events_total',
      help: 'Change events read from the replication slot, by table and op',
      labelNames: ['table', 'op'] as const,
      registers: [registry],
    }),
    publishedEvents: new Counter({
      name: 'pgcdc_published_events_total',
      help: 'Change events acknowledged by Kafka, by table and op',
      labelNames: ['table', 'op'] as const,
      registers: [registry],
    }),
    publishLatency: new Histogram({
      name: 'pgcdc_publish_latency_seconds',
      help: 'Source commit to Kafka acknowledgement',
      buckets: latencyBuckets,
      registers: [registry],
    }),
    confirmedLsn: new Gauge({
      name: 'pgcdc_slot_confirmed_lsn_bytes',
      help: 'WAL position last acknowledged to PostgreSQL (as a byte offset)',
      registers: [registry],
    }),
    producerRestarts: new Counter({
      name: 'pgcdc_producer_restarts_total',
      help: 'Producer stream restarts after an error',
      registers: [registry],
    }),
    snapshotRowsDone: new Gauge({
      name: 'pgcdc_snapshot_rows_done',
      help: 'Rows of the running (or last) snapshot whose events Kafka acknowledged',
      labelNames: ['table'] as const,
      registers: [registry],
    }),
    snapshotRowsTotal: new Gauge({
      name: 'pgcdc_snapshot_rows_estimated',
      help: 'Rows the running (or last) snapshot reads (estimated at its start)',
      labelNames: ['table'] as const,
      registers: [registry],
    }),
    slotWalRetained: new Gauge({
      name: 'pgcdc_slot_wal_retained_bytes',
      help: 'WAL the server keeps for the replication slot: pg_current_wal_lsn() - restart_lsn',
      registers: [registry],
    }),
    slotSafeWalSize: new Gauge({
      name: 'pgcdc_slot_safe_wal_size_bytes',
      help: 'WAL that may still be written before the server invalidates the slot (safe_wal_size; absent without max_slot_wal_keep_size)',
      registers: [registry],
    }),
    slotWalAtRisk: new Gauge({
      name: 'pgcdc_slot_wal_at_risk',
      help: '0 ok, 1 at risk of invalidation (little of max_slot_wal_keep_size left), 2 invalidated (wal_status = lost)',
      registers: [registry],
    }),
    producerReady: new Gauge({
      name: 'pgcdc_producer_ready',
      help: '1 while the producer streams and its slot advances, else 0',
      registers: [registry],
    }),
    applied: new Counter({
      name: 'pgcdc_target_applied_events_total',
      help: 'Events applied to a target (including idempotent no-ops)',
      labelNames: ['target', 'op'] as const,
      registers: [registry],
    }),
    failed: new Counter({
      name: 'pgcdc_target_failed_batches_total',
      help: 'Batches whose apply failed and will be retried',
      labelNames: ['target'] as const,
      registers: [registry],
    }),
    deadLettered: new Counter({
      name: 'pgcdc_target_dead_lettered_events_total',
      help: 'Events sent to the dead-letter topic',
      labelNames: ['target', 'reason'] as const,
      registers: [registry],
    }),
    endToEnd: new Histogram({
      name: 'pgcdc_target_end_to_end_latency_seconds',
      help: 'Source commit to applied at the target',
      labelNames: ['target'] as const,
      buckets: latencyBuckets,
      registers: [registry],
    }),
    batchSize: new Histogram({
      name: 'pgcdc_target_batch_size_events',
      help: 'Events per applied batch',
      labelNames: ['target'] as const,
      buckets: [1, 10, 50, 100, 250, 500, 1000, 2000],
      registers: [registry],
    }),
    applyDuration: new Histogram({
      name: 'pgcdc_target_apply_duration_seconds',
      help: 'Duration of one target transaction',
      labelNames: ['target'] as const,
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers: [registry],
    }),
    targetLag: new Gauge({
      name: 'pgcdc_target_consumer_lag_events',
      help: "Events of a partition not yet applied by a target: high watermark - the target's position",
      labelNames: ['target', 'partition'] as const,
      registers: [registry],
    }),
    targetInfo: new Gauge({
      name: 'pgcdc_target_info',
      help: 'Always 1: the kind of each target (postgres, mysql, webhook), to join on `target` in dashboards',
      labelNames: ['target', 'kind'] as const,
      registers: [registry],
    }),
    targetUp: new Gauge({
      name: 'pgcdc_target_up',
      help: "1 when the target's last result was OK, else 0",
      labelNames: ['target'] as const,
      registers: [registry],
    }),
    webhookResponses: new Counter({
      name: 'pgcdc_webhook_responses_total',
      help: 'Webhook requests by outcome: the HTTP status code, or timeout / network',
      labelNames: ['target', 'code'] as const,
      registers: [registry],
    }),
    webhookRequestDuration: new Histogram({
      name: 'pgcdc_webhook_request_duration_seconds',
      help: 'Duration of one webhook request (until the response or the failure)',
      labelNames: ['target'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    webhookRetries: new Counter({
      name: 'pgcdc_webhook_retries_total',
      help: 'Webhook requests that failed and will be attempted again',
      labelNames: ['target'] as const,
      registers: [registry],
    }),
    webhookCircuitOpen: new Gauge({
      name: 'pgcdc_webhook_circuit_open',
      help: '1 while the circuit breaker of a webhook target is open or half-open (deliveries paused)',
      labelNames: ['target'] as const,
      registers: [registry],
    }),
  };
}

export function createMetrics(opts: { defaults?: boolean } = {}) {
  const base = pipelineMetrics(opts);
  return { ...base, ...reconcileMetrics(base.registry), ...consumerMetrics(base.registry) };
}

export type Metrics = ReturnType<typeof createMetrics>;
