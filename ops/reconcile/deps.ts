// What reconcile needs from the composition root: the configuration and the clients it built.
import type { Config } from '../../pipeline/config/schema.ts';
import type { KafkaClientFactory } from '../../pipeline/kafka/port.ts';
import type { Logger } from '../../pipeline/observability/logger.ts';
import type { PgConnections } from '../../pipeline/postgres.ts';

export interface ReconcileDeps {
  config: Config;
  pg: PgConnections;
  kafka: KafkaClientFactory;
  logger: Logger;
}
