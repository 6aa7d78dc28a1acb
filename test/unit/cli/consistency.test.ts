// The CLI's shared conventions: one exit-code table (usage errors 2, unhealthy status 3), the
// health verdict behind `pgcdc status`, and colour only where it belongs (NO_COLOR, FORCE_COLOR, TTY).
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { useColour } from '../../../cli/colour.ts';
import { EXIT } from '../../../cli/exit-codes.ts';
import { PROJECT_ROOT } from '../../../dev/stack/settings.ts';
import { healthOf } from '../../../ops/health.ts';
import type { PipelineStatus, ProducerView, TargetView } from '../../../ops/status.ts';

const cli = async (args: string[]) => {
  const run = promisify(execFile);
  try {
    const r = await run(process.execPath, [path.join(PROJECT_ROOT, 'cli/bin.js'), ...args], {
      cwd: PROJECT_ROOT,
    });
    return { code: 0, ...r };
  } catch (err) {
    return err as { code: number; stdout: string; stderr: string };
  }
};

describe('exit codes', () => {
  it('a command line the parser refuses exits 2 (usage), help exits 0', async () => {
    const bad = await cli(['status', '--no-such-option']);
    expect(bad.code).toBe(EXIT.usage);
    expect(bad.stderr).toMatch(/unknown option/);
    expect((await cli(['--help'])).code).toBe(EXIT.ok);
    // two cold starts of the CLI through tsx: 17 s on a quiet 2-core machine, over 30 s when it is
    // shared by eight agents (the unit tier's default timeout failed it there)
  }, 120_000);

  it('are distinct', () => {
    expect(new Set(Object.values(EXIT)).size).toBe(Object.keys(EXIT).length);
  });
});

const producer = (over: Partial<ProducerView> = {}): ProducerView =>
  ({
    slot: 'pgcdc_slot',
    exists: true,
    active: true,
    running: true,
    walRisk: null,
    lastError: null,
    ...over,
  }) as ProducerView;
const target = (over: Partial<TargetView> = {}): TargetView =>
  ({
    name: 'peer',
    type: 'postgres',
    state: 'running',
    lastStatus: 'OK',
    lastError: null,
    ...over,
  }) as TargetView;
const status = (p: ProducerView, targets: TargetView[], topicError?: string): PipelineStatus => {
  const topic = { name: 'pgcdc.public.users', partitions: [], ...(topicError ? { error: topicError } : {}) };
  return {
    generatedAt: '2026-11-29T12:00:00Z',
    topic,
    topics: [topic],
    statusTopic: { name: 'pgcdc.status' },
    producer: p,
    targets,
  };
};

describe('healthOf (pgcdc status exit code)', () => {
  it('is healthy when the producer streams and every target is OK', () => {
    expect(healthOf(status(producer(), [target()]))).toEqual({ healthy: true, problems: [] });
  });

  it.each<[string, PipelineStatus, RegExp]>([
    [
      'producer not running',
      status(producer({ running: false, lastError: 'boom' }), [target()]),
      /producer: not running \(boom\)/,
    ],
    ['slot missing', status(producer({ exists: false }), [target()]), /slot pgcdc_slot does not exist/],
    ['slot at risk', status(producer({ walRisk: 'slot at risk of invalidation' }), [target()]), /at risk/],
    [
      'slot unreadable',
      status(producer({ error: 'ECONNREFUSED' }), [target()]),
      /cannot read the slot: ECONNREFUSED/,
    ],
    ['target stopped', status(producer(), [target({ state: 'stopped' })]), /target peer: stopped/],
    [
      'target ERR',
      status(producer(), [target({ lastStatus: 'ERR', lastError: 'dead-lettered' })]),
      /target peer: ERR \(dead-lettered\)/,
    ],
    ['webhook HTTP 500', status(producer(), [target({ lastStatus: 'HTTP 500' })]), /target peer: HTTP 500/],
    [
      'topic unreadable',
      status(producer(), [target()], 'Kafka down'),
      /topic pgcdc.public.users: Kafka down/,
    ],
  ])('is unhealthy when %s', (_what, s, problem) => {
    const h = healthOf(s);
    expect(h.healthy).toBe(false);
    expect(h.problems.join('\n')).toMatch(problem);
  });
});

describe('useColour', () => {
  it.each<[NodeJS.ProcessEnv, boolean | undefined, boolean]>([
    [{}, true, true],
    [{}, false, false],
    [{}, undefined, false],
    [{ NO_COLOR: '1' }, true, false],
    [{ NO_COLOR: '' }, true, true],
    [{ FORCE_COLOR: '1' }, false, true],
    [{ FORCE_COLOR: '0' }, true, true],
    [{ FORCE_COLOR: '0' }, false, false],
    [{ NO_COLOR: '1', FORCE_COLOR: '1' }, true, false],
  ])('env %o, TTY %s -> %s', (env, tty, want) => {
    expect(useColour(env, tty)).toBe(want);
  });
});
