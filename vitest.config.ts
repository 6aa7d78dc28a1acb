// Two test tiers, chosen by file name: `unit` (*.test.ts, pure, no servers) and `integration`
// (*.int.test.ts, against the local stack that test/global-setup.ts brings up once per run).
// `npm test` runs both; `vitest run --project unit` runs only the fast tier.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

// One temporary directory per test run: every file a test, a spawned CLI or a scratch server puts
// in os.tmpdir() lands under it (workers and children inherit TMPDIR), and it is removed when the
// run ends, so a test that forgets its own cleanup cannot fill /tmp run after run. Made once, by
// the process that starts the run (a worker that loads this file again keeps it). The local
// stack's servers, which may outlive the run, keep their temporary files in their own state
// folders and find the machine's temp folder in PGCDC_SYSTEM_TMPDIR (dev/stack/mariadb.ts).
if (!process.env.PGCDC_RUN_TMPDIR) {
  process.env.PGCDC_SYSTEM_TMPDIR ??= tmpdir();
  const runTmp = mkdtempSync(join(tmpdir(), 'pgcdc-run-'));
  process.env.PGCDC_RUN_TMPDIR = runTmp;
  process.env.TMPDIR = runTmp;
  process.on('exit', () => rmSync(runTmp, { recursive: true, force: true }));
}

export default defineConfig({
  test: {
    // Root-level on purpose: vitest 3 ignores pool options inside a project. One file at a time
    // (2-core machines, and integration files share one Postgres, Kafka and registry).
    fileParallelism: false,
    teardownTimeout: 120_000,
    projects: [
      {
        test: {
          name: 'unit',
          // Property-based tests run hundreds of cases; a loaded 2-core CI machine needs headroom.
          testTimeout: 30_000,
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.int.test.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/**/*.int.test.ts'],
          globalSetup: ['test/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 300_000,
          // Integration files run after all unit files, so quick failures are reported first.
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
