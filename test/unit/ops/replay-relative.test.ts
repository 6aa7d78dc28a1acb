// `pgcdc replay --to -15m`: a time relative to now (s, m, h, d, combined), as the CLI parses it.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../../dev/stack/settings.ts';
import { parseReplayTo } from '../../../ops/replay.ts';

const NOW = Date.parse('2026-11-29T12:00:00Z');

describe('parseReplayTo: relative times', () => {
  it.each([
    ['-15m', '2026-11-29T11:45:00.000Z'],
    ['-2h', '2026-11-29T10:00:00.000Z'],
    ['-1h30m', '2026-11-29T10:30:00.000Z'],
    ['-1d', '2026-11-28T12:00:00.000Z'],
    ['-90s', '2026-11-29T11:58:30.000Z'],
    ['-1.5h', '2026-11-29T10:30:00.000Z'],
    [' -15M ', '2026-11-29T11:45:00.000Z'],
  ])('%s is that long before now', (spec, iso) => {
    expect(parseReplayTo(spec, NOW)).toEqual({ kind: 'time', ms: Date.parse(iso) });
  });

  it.each(['-15', '15m', '-m', '-15x', '+15m'])('refuses %s, with the forms in the hint', (spec) => {
    expect(() => parseReplayTo(spec, NOW)).toThrow(/is not a replay position/);
    try {
      parseReplayTo(spec, NOW);
    } catch (err) {
      expect((err as { hint?: string }).hint).toMatch(/-15m, -2h, -1h30m, -1d/);
    }
  });

  it('reaches the verb through the CLI parser (a value starting with "-" is not taken for an option)', async () => {
    // no configuration: the verb parses --to first, then asks for the configuration file
    const run = promisify(execFile);
    const r = await run(
      process.execPath,
      [path.join(PROJECT_ROOT, 'cli/bin.js'), 'replay', '--target', 'peer', '--to', '-15m'],
      { cwd: path.join(PROJECT_ROOT, 'test'), env: { ...process.env, PGCDC_CONFIG: '' } },
    ).catch((e: { stdout: string; stderr: string; code: number }) => e);
    expect(r.stderr).not.toMatch(/unknown option|is not a replay position/);
    expect(r.stderr).toMatch(/no configuration file/);
  });
});
