// The generated configuration reference (docs/configuration.md) and JSON Schema
// (deploy/pgcdc.schema.json) match the zod schema they come from, and every key has a description.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import {
  configJsonSchema,
  envVarOf,
  referenceRows,
  undocumentedKeys,
} from '../../../dev/docs/config-reference.ts';
import { generatedFiles } from '../../../dev/docs/generate.ts';
import { PROJECT_ROOT } from '../../../dev/stack/settings.ts';

const FIX = 'regenerate them with `npm run docs` and commit the result';

describe('generated configuration reference', () => {
  it('docs/configuration.md and deploy/pgcdc.schema.json are up to date with pipeline/config/*.ts', async () => {
    for (const [rel, expected] of Object.entries(await generatedFiles())) {
      let current = '';
      try {
        current = readFileSync(path.join(PROJECT_ROOT, rel), 'utf8');
      } catch {
        // missing: out of date
      }
      expect(current === expected, `${rel} is out of date with the configuration schema: ${FIX}`).toBe(true);
    }
  });

  it('every configuration key has a description (.describe() in pipeline/config/*.ts)', () => {
    expect(undocumentedKeys(), 'keys without .describe()').toEqual([]);
  });

  it('lists every key of the example configurations', () => {
    const keys = new Set(referenceRows(configJsonSchema()).map((r) => r.key));
    const walk = (o: unknown, p: string[]): string[] =>
      o && typeof o === 'object' && !Array.isArray(o)
        ? Object.entries(o).flatMap(([k, v]) => [
            [...p, k].join('.'),
            ...(p[0] === 'kafka' && k === 'topicConfig' ? [] : walk(v, [...p, k])),
          ])
        : Array.isArray(o) && o.every((x) => x && typeof x === 'object')
          ? o.flatMap((x) => walk(x, [...p.slice(0, -1), `${p[p.length - 1]}[]`]))
          : [];
    for (const file of ['deploy/local/pgcdc.local.yaml', 'deploy/compose/pgcdc.yaml']) {
      const used = walk(parseYaml(readFileSync(path.join(PROJECT_ROOT, file), 'utf8')), []);
      expect(
        used.filter((k) => !keys.has(k)),
        file,
      ).toEqual([]);
    }
  });

  it('names the environment override of a key as the loader reads it', () => {
    expect(envVarOf(['source', 'url'])).toBe('PGCDC_SOURCE__URL');
    expect(envVarOf(['operations', 'slotWalWarnRatio'])).toBe('PGCDC_OPERATIONS__SLOT_WAL_WARN_RATIO');
    expect(envVarOf(['source', 'snapshot', 'batchSize'])).toBe('PGCDC_SOURCE__SNAPSHOT__BATCH_SIZE');
  });
});
