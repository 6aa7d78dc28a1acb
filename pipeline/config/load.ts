// Loads the configuration file (YAML or JSON), substitutes ${ENV} references and ${file:/path}
// references (the file's content without its final newline: container secrets), applies PGCDC_<PATH> overrides (path parts joined by "__", e.g.
// PGCDC_SOURCE__URL) and validates it. A bad file names the exact key and why.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { DEFAULT_CONTRACT_DIR } from '../../schemas/contract.ts';
import { ConfigError } from '../errors.ts';
import { applyEnvOverrides } from './env.ts';
import { ConfigSchema, contractOf, sourceTablesOf, type Config } from './schema.ts';
import { resolvePeerPaths } from './peers.ts';
import { readSecretFile } from './secret-file.ts';
import { configSecrets, rememberSecrets } from '../observability/secrets.ts';

const ENV_REF = /\$\{(?:file:([^}]+)|([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?)\}/g;

function substitute(value: unknown, env: NodeJS.ProcessEnv, path: string): unknown {
  if (typeof value === 'string') {
    return value.replace(ENV_REF, (_m, file: string | undefined, name: string, def: string | undefined) => {
      if (file !== undefined) return readSecretFile(file, path);
      const v = env[name] ?? def;
      if (v === undefined)
        throw new ConfigError(`config ${path}: environment variable ${name} is not set`, {
          hint: `export ${name}=...`,
        });
      return v;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => substitute(v, env, `${path}.${i}`));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, substitute(v, env, path ? `${path}.${k}` : k)]),
    );
  }
  return value;
}

/** `baseDir`: what relative paths in the configuration (source.contracts) are relative to. */
export function parseConfig(
  raw: unknown,
  env: NodeJS.ProcessEnv = {},
  origin = 'config',
  baseDir = process.cwd(),
  /** false: a missing contract is not an error (`pgcdc contract generate` writes it) */
  requireContracts = true,
): Config {
  const obj = (substitute(raw ?? {}, env, '') ?? {}) as Record<string, unknown>;
  applyEnvOverrides(obj, env);
  const res = ConfigSchema.safeParse(obj);
  if (!res.success) {
    const lines = res.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ConfigError(`${origin} is invalid:\n${lines.join('\n')}`);
  }
  const contracts = res.data.source.contracts;
  const config = resolvePeerPaths(
    contracts === undefined
      ? res.data
      : { ...res.data, source: { ...res.data.source, contracts: path.resolve(baseDir, contracts) } },
    baseDir,
  );
  if (requireContracts) requireContract(config.source, origin);
  rememberSecrets(configSecrets(config));
  return config;
}

/** Every captured table must have a contract (<contracts>/<table>-key.avsc and -value.avsc): said at load time. */
function requireContract(source: Config['source'], origin: string): void {
  for (const table of sourceTablesOf(source)) {
    try {
      contractOf(source, table);
    } catch (err) {
      const dir = source.contracts ?? DEFAULT_CONTRACT_DIR;
      const tables = (() => {
        try {
          return readdirSync(dir)
            .filter((f) => f.endsWith('-key.avsc'))
            .map((f) => f.slice(0, -'-key.avsc'.length));
        } catch {
          return [];
        }
      })();
      const key = source.tables ? 'source.tables' : 'source.table';
      throw new ConfigError(
        `${origin} is invalid:\n  ${key}: no event contract for table "${table.table}" (${(err as NodeJS.ErrnoException).code === 'ENOENT' ? `${path.join(dir, table.table)}-key.avsc and -value.avsc are missing` : (err as Error).message})`,
        {
          hint: `tables with a contract: ${tables.join(', ') || '(none)'}; fix ${key}, or add the table's contract (.avsc files) first`,
          cause: err,
        },
      );
    }
  }
}

/** Parser messages quote the offending source text, which may hold a secret: keep reason and position. */
function withoutExcerpt(message: string): string {
  // YAML: "<reason> at line L, column C:\n\n<source line>\n^"; V8 JSON: "<reason>, ...\"<excerpt>\"... is not valid JSON".
  return message
    .split('\n')[0]!
    .replace(/:$/, '')
    .replace(/, (\.\.\.)?".*$/, '');
}

export function loadConfigFile(file: string, env: NodeJS.ProcessEnv, requireContracts = true): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`, {
      hint: 'pass --config <file>',
    });
  }
  let raw: unknown;
  try {
    raw = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    const reason = withoutExcerpt((err as Error).message);
    throw new ConfigError(
      `config file ${file} is not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${reason}`,
    );
  }
  return parseConfig(raw, env, `config file ${file}`, path.dirname(path.resolve(file)), requireContracts);
}
