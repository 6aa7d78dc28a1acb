// `pgcdc contract generate|diff`: the I/O around the pure generation and diff (generate.ts,
// diff.ts): read the source table from the catalog, the contract files, the registry's latest
// version; write the files. The contract directory is the configuration's `source.contracts`
// (relative to the configuration file), never the install directory.
import type { Config } from '../../pipeline/config/schema.ts';
import {
  contractOf,
  sourceTablesOf,
  tableName,
  topicFor,
  type TableRef,
} from '../../pipeline/config/schema.ts';
import { PgcdcError } from '../../pipeline/errors.ts';
import type { PgConnections } from '../../pipeline/postgres.ts';
import { registryAccessOf } from '../../pipeline/transport.ts';
import { DEFAULT_CONTRACT_DIR, loadContract, type AvroRecordSchema } from '../../schemas/contract.ts';
import { readTableShape } from './catalog.ts';
import { diffContract, type ContractDiff } from './diff.ts';
import { writeContract } from './files.ts';
import { generateContract, type GeneratedContract, type TableShape } from './generate.ts';
import { latestSchema } from './registry.ts';

/** The shipped users contract's envelope: every generated contract uses it. */
export const envelopeTemplate = (): AvroRecordSchema =>
  loadContract('users', 'public', DEFAULT_CONTRACT_DIR).valueSchema;

/** A captured table's shape, read with an ops connection; refuses a missing table by name. */
export async function readSourceShape(
  config: Config,
  pg: PgConnections,
  table: TableRef = sourceTablesOf(config.source)[0]!,
): Promise<TableShape> {
  const { source } = config;
  const client = pg.client(source.url, 'ops', 'pgcdc-contract');
  client.on('error', () => undefined);
  await client.connect();
  try {
    const shape = await readTableShape(client, table.schema, table.table);
    if (!shape)
      throw new PgcdcError(`source table ${tableName(table)} does not exist`, {
        retriable: false,
        hint: 'create the table first, or fix source.tables (source.schema / source.table)',
      });
    return shape;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Where `contract generate` writes: --out, else source.contracts; never the shipped directory. */
export function contractDirOf(config: Config, out: string | undefined): string {
  const dir = out ?? config.source.contracts;
  if (!dir)
    throw new PgcdcError('no contract directory: source.contracts is not set', {
      retriable: false,
      hint: 'set source.contracts in the configuration (a directory of your own, relative to the configuration file), or pass --out <dir>',
    });
  return dir;
}

export async function generateFromSource(
  config: Config,
  pg: PgConnections,
  opts: { out?: string; force?: boolean; table?: TableRef },
): Promise<GeneratedContract & { files: string[] }> {
  const dir = contractDirOf(config, opts.out);
  const table = opts.table ?? sourceTablesOf(config.source)[0]!;
  const generated = generateContract(await readSourceShape(config, pg, table), envelopeTemplate());
  const files = writeContract(dir, table.table, generated, opts.force === true);
  return { ...generated, files };
}

export async function diffWithSource(
  config: Config,
  pg: PgConnections,
  table: TableRef = sourceTablesOf(config.source)[0]!,
): Promise<ContractDiff> {
  const fromTable = generateContract(await readSourceShape(config, pg, table), envelopeTemplate());
  let contract;
  try {
    contract = contractOf(config.source, table);
  } catch (err) {
    throw new PgcdcError(`no contract for ${tableName(table)}: ${(err as Error).message}`, {
      retriable: false,
      hint: `write it with pgcdc contract generate --table ${tableName(table)}`,
    });
  }
  const latest = await latestSchema(
    registryAccessOf(config.registry),
    `${topicFor(config.kafka, table)}-value`,
  );
  return diffContract({
    fromTable,
    contract,
    ...(latest ? { registry: { version: latest.version, schema: latest.schema as AvroRecordSchema } } : {}),
  });
}
