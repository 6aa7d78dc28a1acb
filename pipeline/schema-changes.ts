// Wiring of automatic schema changes at the consumers (`source.schemaChanges: automatic`,
// docs/contracts.md "Schema changes"), for the composition root: each topic's codec follows the
// additive evolutions of its table's contract (schemas/evolving-codec.ts), and the sink of a table
// at a Postgres or MySQL/MariaDB target adds the new columns before it applies the first event of
// a new version (consumers/evolving-sink.ts). A target with a mapping keeps its configured columns
// (a mapped table's shape is the mapping's: a new source column is not one of them); a webhook
// target keeps the contract's columns (its payload's shape changes only with the contract files).
import { evolvingSink } from '../consumers/evolving-sink.ts';
import { addMysqlColumns } from '../consumers/mysql/add-columns.ts';
import { addPostgresColumns } from '../consumers/postgres/add-columns.ts';
import type { Sink } from '../consumers/sink.ts';
import { createEventCodec, type EventCodec } from '../schemas/codec.ts';
import type { TableContract } from '../schemas/contract.ts';
import { createEvolvingCodec, type EvolvingCodec } from '../schemas/evolving-codec.ts';
import { fetchSchemaJsonById } from '../schemas/registry.ts';
import type { Config, TargetConfig } from './config/schema.ts';
import type { Logger } from './observability/logger.ts';
import type { PgConnections } from './postgres.ts';
import { registryAccessOf } from './transport.ts';

/** The current contract of each table a consumer reads (`schema.table` -> its codec's contract). */
export type CurrentContracts = ReadonlyMap<string, () => TableContract>;

/** A topic's codec that follows the additive evolutions of its contract. */
export function evolvingCodecOf(
  config: Config,
  logger: Logger,
  topic: string,
  contract: TableContract,
  base: EventCodec,
): EvolvingCodec {
  const registryUrl = registryAccessOf(config.registry);
  return createEvolvingCodec(base, contract, {
    writerSchema: (id) => fetchSchemaJsonById(registryUrl, id),
    readerCodec: (evolved, valueSchemaId) =>
      createEventCodec({
        registryUrl,
        topic,
        contract: evolved,
        registered: { keySchemaId: base.keySchemaId, valueSchemaId },
      }),
    onEvolve: (_evolved, added, valueSchemaId) =>
      logger.info(
        { topic, valueSchemaId, added: added.map((c) => `${c.name} ${c.sqlType}`) },
        'automatic schema change: events of a new schema version with new nullable columns; decoding with it',
      ),
  });
}

/**
 * The sink of one table at a database target, following the codec's contract (`current`); any
 * other target's sink as `build` makes it.
 */
export function evolvingTableSink(opts: {
  config: Config;
  pg: PgConnections;
  logger: Logger;
  target: TargetConfig;
  /** where the table goes at the target */
  at: { schema: string; table: string };
  contract: TableContract;
  current: (() => TableContract) | undefined;
  /** whether a mapping shapes the table (then it keeps the mapping's columns) */
  mapped: boolean;
  build: (contract: TableContract) => Sink;
}): Sink {
  const { target, at, current } = opts;
  if (!current || opts.mapped || opts.config.source.schemaChanges !== 'automatic')
    return opts.build(opts.contract);
  const addColumns = (() => {
    switch (target.type) {
      case 'postgres':
        return (columns: TableContract['columns']) =>
          addPostgresColumns(opts.pg, { name: target.name, url: target.url, ...at }, columns);
      case 'mysql':
        return (columns: TableContract['columns']) =>
          addMysqlColumns(
            { name: target.name, url: target.url, tls: target.tls, table: at.table },
            columns,
            opts.config.connections.connectTimeoutMs,
          );
      case 'webhook':
        return undefined;
      default:
        return target satisfies never;
    }
  })();
  if (!addColumns) return opts.build(opts.contract);
  return evolvingSink({
    contract: opts.contract,
    current,
    build: opts.build,
    addColumns,
    logger: opts.logger,
  });
}
