// Global setup of the `integration` project: brings the local stack up once per run (reusing any
// part already running, e.g. a developer's `pgcdc stack up`), hands its URLs to the tests, and at
// the end stops only what it started itself.
import type { TestProject } from 'vitest/node';
import { stackSettingsFromEnv, type StackSettings } from '../dev/stack/settings.ts';
import { stackDown, stackUp, type UpResult } from '../dev/stack/stack.ts';
import { describeError } from '../pipeline/errors.ts';
import type {} from './support/provided.ts'; // the typed `stackUrls` key of provide()

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const t0 = Date.now();
  let settings: StackSettings | undefined;
  let up: UpResult;
  try {
    settings = stackSettingsFromEnv(process.env);
    up = await stackUp(settings, (m) => console.error(`[stack] ${m}`));
  } catch (err) {
    const line = '='.repeat(78);
    const where = settings ? `state: ${settings.stateDir}   cache: ${settings.cacheDir}\n` : '';
    console.error(
      `\n${line}\nIntegration tests cannot run: the local stack failed to start.\n\n${describeError(err)}\n\n` +
        `${where}Reproduce with: node dev/cli/bin.js stack up\n${line}\n`,
    );
    throw err;
  }
  const reused = (['postgres', 'kafka', 'registry', 'mariadb'] as const).filter(
    (c) => !up.started.includes(c),
  );
  console.error(
    `[stack] ready in ${((Date.now() - t0) / 1000).toFixed(1)} s; started: ${up.started.join(', ') || 'nothing'}; ` +
      `reused: ${reused.join(', ') || 'nothing'}`,
  );
  project.provide('stackUrls', up.urls);
  const { started } = up;
  const s = settings;
  return async () => {
    if (!started.length) return;
    console.error(`[stack] stopping what this run started: ${started.join(', ')}`);
    await stackDown(s, started);
  };
}
