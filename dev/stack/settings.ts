// Settings of the local development/test stack: where state and caches live, and every port.
// Parsed once from the environment (PGCDC_STACK_*) at the edge and passed down typed.
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { ConfigError } from '../../pipeline/errors.ts';

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** The pipeline configuration for the local stack (the demo's, and the README's examples'). */
export const LOCAL_CONFIG = path.join(PROJECT_ROOT, 'deploy/local/pgcdc.local.yaml');

const port = z.coerce.number().int().min(1).max(65535);

export const StackSettingsSchema = z.object({
  stateDir: z.string().describe('Servers state: data directories, logs, pid files (PGCDC_STACK_STATE_DIR)'),
  cacheDir: z.string().describe('Downloaded Kafka jars and registry distribution (PGCDC_STACK_CACHE_DIR)'),
  host: z.string().default('127.0.0.1'),
  pgPort: port.default(54329).describe('PostgreSQL port (PGCDC_STACK_PG_PORT)'),
  kafkaPort: port.default(19092).describe('Kafka broker port (PGCDC_STACK_KAFKA_PORT)'),
  kafkaControllerPort: port
    .default(19093)
    .describe('Kafka KRaft controller port (PGCDC_STACK_KAFKA_CONTROLLER_PORT)'),
  registryPort: port.default(18081).describe('Schema registry HTTP port (PGCDC_STACK_REGISTRY_PORT)'),
  mariadbPort: port
    .default(33069)
    .describe("MariaDB port, the mysql targets' peer (PGCDC_STACK_MARIADB_PORT)"),
  kafkaVersion: z.string().default('4.1.1'),
  log4jVersion: z.string().default('2.24.3'),
  apicurioVersion: z.string().default('3.0.9'),
  kafkaHeapMb: z.coerce.number().int().min(128).default(512),
  registryHeapMb: z.coerce.number().int().min(128).default(320),
  sourceDb: z.string().default('pgcdc'),
  peerDb: z.string().default('pgcdc_peer'),
  registryDb: z.string().default('pgcdc_registry'),
});
export type StackSettings = z.infer<typeof StackSettingsSchema>;

const ENV_KEYS: Record<string, keyof StackSettings> = {
  PGCDC_STACK_STATE_DIR: 'stateDir',
  PGCDC_STACK_CACHE_DIR: 'cacheDir',
  PGCDC_STACK_PG_PORT: 'pgPort',
  PGCDC_STACK_KAFKA_PORT: 'kafkaPort',
  PGCDC_STACK_KAFKA_CONTROLLER_PORT: 'kafkaControllerPort',
  PGCDC_STACK_REGISTRY_PORT: 'registryPort',
  PGCDC_STACK_MARIADB_PORT: 'mariadbPort',
  PGCDC_STACK_KAFKA_VERSION: 'kafkaVersion',
  PGCDC_STACK_KAFKA_HEAP_MB: 'kafkaHeapMb',
  PGCDC_STACK_REGISTRY_HEAP_MB: 'registryHeapMb',
};

export function stackSettingsFromEnv(env: NodeJS.ProcessEnv): StackSettings {
  const raw: Record<string, unknown> = {
    stateDir: path.join(PROJECT_ROOT, '.pgcdc'),
    cacheDir: path.join(env.XDG_CACHE_HOME ?? path.join(homedir(), '.cache'), 'pgcdc'),
  };
  for (const [name, key] of Object.entries(ENV_KEYS)) {
    const v = env[name];
    if (v !== undefined && v !== '') raw[key] = v;
  }
  const parsed = StackSettingsSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const key = issue?.path[0];
    const envName = Object.entries(ENV_KEYS).find(([, k]) => k === key)?.[0] ?? String(key);
    throw new ConfigError(
      `invalid stack setting ${envName}=${JSON.stringify(env[envName] ?? '')}: ${issue?.message ?? 'invalid'}`,
      { hint: `set ${envName} to a valid value, or unset it to use the default` },
    );
  }
  assertDistinctPorts(parsed.data);
  return parsed.data;
}

const PORT_ENV: [keyof StackSettings, string][] = [
  ['pgPort', 'PGCDC_STACK_PG_PORT'],
  ['kafkaPort', 'PGCDC_STACK_KAFKA_PORT'],
  ['kafkaControllerPort', 'PGCDC_STACK_KAFKA_CONTROLLER_PORT'],
  ['registryPort', 'PGCDC_STACK_REGISTRY_PORT'],
  ['mariadbPort', 'PGCDC_STACK_MARIADB_PORT'],
];

/** Two components on one port would fail later with a confusing start-up error; say it now. */
function assertDistinctPorts(s: StackSettings): void {
  const seen = new Map<unknown, string>();
  for (const [key, envName] of PORT_ENV) {
    const other = seen.get(s[key]);
    if (other) {
      throw new ConfigError(`stack settings ${other} and ${envName} are both ${String(s[key])}`, {
        hint: 'give every component its own port',
      });
    }
    seen.set(s[key], envName);
  }
}

export interface StackUrls {
  sourceUrl: string;
  peerUrl: string;
  adminUrl: string;
  kafkaBrokers: string[];
  registryUrl: string;
  /** the MariaDB peer database of mysql targets */
  mysqlPeerUrl: string;
  /** the MariaDB server, no database */
  mariadbAdminUrl: string;
}

export function stackUrls(s: StackSettings): StackUrls {
  const pg = (db: string) => `postgres://postgres@${s.host}:${s.pgPort}/${db}`;
  return {
    sourceUrl: pg(s.sourceDb),
    peerUrl: pg(s.peerDb),
    adminUrl: pg('postgres'),
    kafkaBrokers: [`${s.host}:${s.kafkaPort}`],
    registryUrl: `http://${s.host}:${s.registryPort}/apis/ccompat/v7`,
    mysqlPeerUrl: `mysql://root@${s.host}:${s.mariadbPort}/${s.peerDb}`,
    mariadbAdminUrl: `mysql://root@${s.host}:${s.mariadbPort}/`,
  };
}
