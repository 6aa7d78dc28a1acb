// One exit-code table for every verb: cli/exit-codes.ts (VERB_EXITS) is the list, docs/cli.md's
// "Verbs" table says the same, every verb of the program has its line, and the code of each verb
// sets only the codes documented for it, through the named constants (EXIT.*), never a number.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  EXIT,
  NotConfirmedError,
  UsageError,
  VERB_EXITS,
  asUsage,
  exitCodeOf,
  type ExitName,
} from '../../../cli/exit-codes.ts';
import { confirm } from '../../../cli/output.ts';
import { ConfigError } from '../../../pipeline/errors.ts';
import { buildProgram, verbsOf } from '../../../cli/verbs.ts';
import { PROJECT_ROOT } from '../../../dev/stack/settings.ts';

const CLI = path.join(PROJECT_ROOT, 'cli');
const source = (file: string) => readFileSync(path.join(CLI, file), 'utf8');
const verbs = verbsOf(buildProgram()).map((v) => v.path);

/** The file that implements a verb: cli/commands/<first word>.ts; the pipeline processes share one. */
const fileOf = (verb: string) =>
  ['produce', 'consume', 'run'].includes(verb) ? 'commands/pipeline.ts' : `commands/${verb.split(' ')[0]}.ts`;

/** docs/cli.md's "Verbs" table: verb -> the exit codes it lists. */
function documented(): Map<string, number[]> {
  const text = readFileSync(path.join(PROJECT_ROOT, 'docs/cli.md'), 'utf8');
  const rows = new Map<string, number[]>();
  for (const m of text.matchAll(/^\| `([a-z][a-z ]*)` +\| ([\d, ]+?) +\|/gm))
    rows.set(m[1]!, m[2]!.split(/[ ,]+/).map(Number));
  return rows;
}

/** The codes a file sets: EXIT.<name>, and usage when it refuses a value or asks for --yes. */
function codesSetIn(file: string): Set<ExitName> {
  const text = source(file);
  const used = new Set<ExitName>();
  for (const m of text.matchAll(/\bEXIT\.(\w+)/g)) used.add(m[1] as ExitName);
  if (/\b(UsageError|asUsage|confirm)\(/.test(text)) used.add('usage');
  if (/\buntilSignal\(/.test(text)) used.add('interrupted');
  return used;
}

describe('exit-code table', () => {
  it('has a line for every verb of the program, and no line for a verb that does not exist', () => {
    expect(verbs.length).toBeGreaterThan(12);
    const missing = verbs.filter((v) => !VERB_EXITS[v]);
    expect(missing, 'add these verbs to VERB_EXITS (cli/exit-codes.ts) and docs/cli.md').toEqual([]);
    expect(Object.keys(VERB_EXITS).filter((v) => !verbs.includes(v))).toEqual([]);
  });

  it('docs/cli.md lists the same codes for every verb', () => {
    const docs = documented();
    for (const v of verbs) {
      expect(docs.get(v), `docs/cli.md "Verbs" table: no row for ${v}`).toBeDefined();
      expect(docs.get(v), v).toEqual(VERB_EXITS[v]!.map((c) => EXIT[c]));
    }
    expect([...docs.keys()].filter((v) => !verbs.includes(v))).toEqual([]);
  });

  it('every verb can fail (1) and be refused (2)', () => {
    for (const v of verbs)
      expect(VERB_EXITS[v], v).toEqual(expect.arrayContaining(['ok', 'failed', 'usage']));
  });

  it.each(verbs.map((v) => [v]))(
    '%s sets only its documented codes, and each special one somewhere',
    (verb) => {
      const file = fileOf(verb);
      const sharing = verbs.filter((v) => fileOf(v) === file);
      const allowed = new Set(sharing.flatMap((v) => VERB_EXITS[v]!));
      const used = codesSetIn(file);
      expect(
        [...used].filter((c) => !allowed.has(c)),
        `${file} sets codes none of its verbs documents`,
      ).toEqual([]);
      for (const c of VERB_EXITS[verb]!)
        if (c === 'unhealthy' || c === 'interrupted')
          expect(used, `${verb}: ${c} is documented but never set`).toContain(c);
    },
  );

  it('no exit code is written as a bare number in the CLI', () => {
    const files = [
      'main.ts',
      'program.ts',
      'verbs.ts',
      'output.ts',
      ...readdirSync(path.join(CLI, 'commands')).map((f) => `commands/${f}`),
    ];
    for (const f of files) expect(source(f), f).not.toMatch(/process\.exit(?:Code\s*=\s*|\()\d/);
  });
});

describe('refusals are usage errors (exit 2), other failures exit 1', () => {
  it('maps errors to codes', () => {
    expect(exitCodeOf(new UsageError('bad --to'))).toBe(EXIT.usage);
    expect(exitCodeOf(new NotConfirmedError('not confirmed'))).toBe(EXIT.usage);
    expect(exitCodeOf(new ConfigError('bad file'))).toBe(EXIT.failed);
    expect(exitCodeOf(new Error('boom'))).toBe(EXIT.failed);
  });

  it('asUsage turns what a value parser refuses into a usage error, same message and fix', () => {
    let refused: unknown;
    try {
      asUsage(() => {
        throw new ConfigError('--to "x" is not a replay position', { hint: 'use earliest' });
      });
    } catch (err) {
      refused = err;
    }
    expect(refused).toBeInstanceOf(UsageError);
    expect(refused).toMatchObject({ message: '--to "x" is not a replay position', hint: 'use earliest' });
    expect(asUsage(() => 42)).toBe(42);
  });

  it('confirm: --dry-run previews, --yes goes, anything else off a terminal is refused', async () => {
    expect(await confirm({ dryRun: true, yes: true }, 'drop slot s')).toBe('preview');
    expect(await confirm({ yes: true }, 'drop slot s')).toBe('go');
    // the test runner's stdin is not a terminal: a script without --yes
    await expect(confirm({}, 'drop slot s')).rejects.toThrow(NotConfirmedError);
    await expect(confirm({ json: true }, 'drop slot s')).rejects.toThrow(
      /drop slot s: not confirmed \(no --yes\); nothing was done/,
    );
  });
});
