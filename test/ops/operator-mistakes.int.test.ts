// Operator mistakes get a clear answer naming the key and the fix, not an endless retry:
//   - kafka.brokers pointing nowhere: `pgcdc run` names kafka.brokers and the addresses (before,
//     only kafkajs lines, for as long as it ran);
//   - the source table missing at run time: `pgcdc produce` holds (not running) with the error
//     and its fix, and `pgcdc status` shows it.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { stackUrls, waitUntil } from '../support/index.ts';
import {
  dropPipelineEnv,
  pipelineEnv,
  query,
  runCli,
  spawnCli,
  testApp,
  type CliChild,
  type PipelineEnv,
} from '../support/pipeline.ts';

let env: PipelineEnv;
const children: CliChild[] = [];

beforeAll(async () => {
  env = await pipelineEnv(stackUrls(), 'mistake', { source: { snapshot: { mode: 'never' } } });
});

afterAll(async () => {
  for (const c of children) await c.kill();
  await dropPipelineEnv(env, testApp(env.config).kafka);
});

/** env's configuration file with `change` applied to it, written next to it. */
function configWith(change: (raw: Record<string, Record<string, unknown>>) => void): string {
  const raw = parse(readFileSync(env.configFile, 'utf8')) as Record<string, Record<string, unknown>>;
  change(raw);
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'pgcdc-mistake-')), 'pgcdc.yaml');
  writeFileSync(file, stringify(raw));
  return file;
}

it('an unreachable broker: run names kafka.brokers and the addresses', async () => {
  const file = configWith((raw) => (raw.kafka!.brokers = ['127.0.0.1:1']));
  const child = spawnCli(['run', '-c', file, '--metrics-port', '0']);
  children.push(child);
  await waitUntil(() => /cannot reach Kafka at 127\.0\.0\.1:1 \(kafka\.brokers\)/.test(child.output()), {
    what: 'a log line naming kafka.brokers',
    timeoutMs: 30_000,
  });
  expect(child.output()).toContain('check kafka.brokers (127.0.0.1:1)');
  await child.kill();
});

it('the source table missing at run time: produce names it with the fix, and status shows it', async () => {
  await query(env.source.url, 'DROP TABLE users');
  const child = spawnCli(['produce', '-c', env.configFile, '--metrics-port', '0']);
  children.push(child);
  await waitUntil(() => /source table public\.users does not exist/.test(child.output()), {
    what: 'produce to name the missing table',
    timeoutMs: 30_000,
  });
  expect(child.output()).toContain('fix source.schema/source.table');
  const status = await waitUntil(
    async () => {
      const r = await runCli(['status', '-c', env.configFile]);
      return /source table public\.users does not exist/.test(r.stdout) && r.stdout;
    },
    { what: 'pgcdc status to show the error', timeoutMs: 30_000, intervalMs: 1000 },
  );
  expect(status).toContain('fix source.schema/source.table');
  await child.kill();
});
