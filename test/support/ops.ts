// Helpers of the operations tests: run the CLI to completion (exit code, stdout, stderr), write a
// config variant, and a tiny throwaway PostgreSQL cluster (e.g. with wal_level=replica).
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { startOwnCluster } from './cluster.ts';
import type { CliResult } from './pipeline.ts';

export { runCli, type CliResult } from './pipeline.ts';

export function json<T>(r: CliResult): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`not JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
}

/** A copy of a YAML config file with `edit` applied to its parsed form. */
export function configVariant(file: string, edit: (raw: Record<string, unknown>) => void): string {
  const raw = parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  edit(raw);
  const out = path.join(mkdtempSync(path.join(tmpdir(), 'pgcdc-ops-')), 'pgcdc.yaml');
  writeFileSync(out, stringify(raw));
  return out;
}

export { freePort } from './cluster.ts';

export interface TinyCluster {
  url: (db?: string) => string;
  stop(): Promise<void>;
}

/** A minimal cluster of the test's own (startOwnCluster) with the given server settings. */
export function startTinyCluster(settings: Record<string, string>): Promise<TinyCluster> {
  return startOwnCluster({
    prefix: 'pgcdc-tiny-',
    initdb: ['--no-sync'],
    settings: ['shared_buffers=16MB', 'fsync=off', ...Object.entries(settings).map(([k, v]) => `${k}=${v}`)],
  });
}
