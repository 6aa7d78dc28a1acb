// `pgcdc check`: validates the configuration and every connection the pipeline needs, and says for
// each problem what to do. Checks of independent systems run concurrently; nothing is created or
// changed anywhere.
import type { Config } from '../../pipeline/config/schema.ts';
import { contractOf, sourceTablesOf, targetRoutesOf, topicFor } from '../../pipeline/config/schema.ts';
import type { KafkaClientFactory } from '../../pipeline/kafka/port.ts';
import { checkKafka } from './kafka.ts';
import { checkRegistry } from './registry.ts';
import { checkSource } from './source.ts';
import { checkShapes } from './shape.ts';
import { checkSourceFilter } from './source-filter.ts';
import { checkTarget } from './targets.ts';
import { checkPeers } from './peers.ts';
import { compileShape } from '../../consumers/mapping/shape.ts';
import { mappingFor } from '../../pipeline/config/mapping.ts';
import type { CheckResult } from './types.ts';
import { createPgConnections, type PgConnections } from '../../pipeline/postgres.ts';
import { registryAccessOf } from '../../pipeline/transport.ts';

export type { CheckLevel, CheckResult } from './types.ts';

export async function runChecks(
  config: Config,
  kafka: KafkaClientFactory,
  connections: PgConnections = createPgConnections(config.connections),
): Promise<CheckResult[]> {
  if (config.peers) return once(await checkPeers(config, kafka, connections));
  // several tables (docs/tables.md): the table-specific checks run per table; the checks of the
  // connection, the slot and the brokers come out the same for each and are listed once
  const tables = sourceTablesOf(config.source);
  const perTable = tables.map((t) => {
    const source = { ...config.source, schema: t.schema, table: t.table };
    const contract = contractOf(config.source, t);
    const topic = topicFor(config.kafka, t);
    return [
      checkSource(source, contract, connections),
      checkKafka({ ...config, source: { ...source, tables: undefined } }, kafka),
      checkRegistry(registryAccessOf(config.registry), topic, contract, undefined, config.source.contracts),
    ];
  });
  const perTarget = config.targets.flatMap((t) =>
    targetRoutesOf(config.source, t).map((r) => {
      const contract = contractOf(config.source, r.source);
      // a shaped target's table is checked against its shape (a matched one by checkShapes alone)
      const { shape } = compileShape(mappingFor(config.source, t, r.source), contract);
      if (shape?.match && t.type !== 'webhook') return Promise.resolve([]);
      const shaped = shape ? { ...contract, columns: shape.columns, keyColumns: shape.keyColumns } : contract;
      return checkTarget({ ...t, ...r.at }, shaped, connections);
    }),
  );
  const parts = await Promise.all([...perTable.flat(), ...perTarget, checkShapes(config, connections)]);
  const targets: CheckResult[] = config.targets.length
    ? []
    : [
        {
          id: 'targets',
          level: 'WARN',
          message: 'no targets configured: events are published but applied nowhere',
        },
      ];
  return [...checkSourceFilter(config), ...once(parts.flat()), ...targets];
}

/** Each finding once (the checks of a shared connection come out the same for several parts). */
function once(results: CheckResult[]): CheckResult[] {
  const seen = new Set<string>();
  return results.filter((r) => {
    const k = `${r.id}\0${r.level}\0${r.message}`;
    return seen.has(k) ? false : (seen.add(k), true);
  });
}

export function hasErrors(results: CheckResult[]): boolean {
  return results.some((r) => r.level === 'ERROR');
}
