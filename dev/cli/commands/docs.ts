// `pgcdc-dev docs` (npm run docs): regenerates what is generated from the code: the configuration
// reference (docs/configuration.md) and its JSON Schema (deploy/pgcdc.schema.json), formatted
// with the project's prettier settings. `--check` only compares (exit 1 when out of date), as the
// unit test test/unit/dev/config-reference.test.ts does.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { PROJECT_ROOT } from '../../stack/settings.ts';
import { generatedFiles } from '../../docs/generate.ts';

export function registerDocsCommand(program: Command): void {
  program
    .command('docs')
    .description(
      'regenerate docs/configuration.md and deploy/pgcdc.schema.json from the configuration schema',
    )
    .option('--check', 'only check that they are up to date (exit 1 when not)')
    .action(async (opts: { check?: boolean }) => {
      const files = await generatedFiles();
      let stale = 0;
      for (const [rel, text] of Object.entries(files)) {
        const file = path.join(PROJECT_ROOT, rel);
        let current = '';
        try {
          current = readFileSync(file, 'utf8');
        } catch {
          // a missing file is out of date
        }
        if (current === text) continue;
        stale++;
        if (opts.check) console.log(`${rel} is out of date`);
        else {
          writeFileSync(file, text);
          console.log(`wrote ${rel}`);
        }
      }
      if (opts.check && stale > 0) {
        console.log('run: npm run docs');
        process.exitCode = 1;
      } else if (stale === 0) console.log('generated files are up to date');
    });
}
