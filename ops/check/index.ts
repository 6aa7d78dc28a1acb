// `pgcdc check`: validates the configuration and every connection the pipeline needs, and says for
// each problem what to do. Checks of independent systems run concurrently; nothing is created or
// changed anywhere.
import type { Config } from '../../pipeline/config/schema.ts';
import { contractOf, topicFor } from '../../pipeline/config/schema.ts';
import type { KafkaClientFactory } from '../../pipeline/kafka/port.ts';
import { checkKafka } from './kafka.ts';
import { checkRegistry } from './registry.ts';
import { checkSource } from './source.ts';
import { checkShapes } from './shape.ts';
import { checkTarget } from './targets.ts';
import { compileShape } from '../../consumers/mapping/shape.ts';
import type { CheckResult } from './types.ts';
import { createPgConnections, type PgConnections } from '../../pipeline/postgres.ts';
import { registryAccessOf } from '../../pipeline/transport.ts';

export type { CheckLevel, CheckResult } from './types.ts';

export async function runChecks(
  config: Config,
  kafka: KafkaClientFactory,
  connections: PgConnections = createPgConnections(config.connections),
): Promise<CheckResult[]> {
  const contract = contractOf(config.source);
  const topic = topicFor(config.kafka, config.source);
  const parts = await Promise.all([
    checkSource(config.source, contract, connections),
    checkKafka(config, kafka),
    checkRegistry(registryAccessOf(config.registry), topic, contract),
    ...config.targets.map((t) => {
      // a shaped target's table is checked against its shape (a matched one by checkShapes alone)
      const { shape } = compileShape(t.mapping, contract);
      if (shape?.match && t.type === 'postgres') return Promise.resolve([]);
      const shaped = shape ? { ...contract, columns: shape.columns, keyColumns: shape.keyColumns } : contract;
      return checkTarget(t, shaped, connections);
    }),
    checkShapes(config, contract, connections),
  ]);
  const targets: CheckResult[] = config.targets.length
    ? []
    : [
        {
          id: 'targets',
          level: 'WARN',
          message: 'no targets configured: events are published but applied nowhere',
        },
      ];
  return [...parts.flat(), ...targets];
}

export function hasErrors(results: CheckResult[]): boolean {
  return results.some((r) => r.level === 'ERROR');
}
