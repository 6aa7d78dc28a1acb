// The output convention of every `pgcdc` verb (docs/cli.md "Output for scripts"): with `--json`,
// exactly one JSON document on stdout (its shape built in cli/shapes.ts, 64-bit numbers as
// strings) and nothing else there; without it, text for people. Progress, notes, logs and errors
// always go to stderr, so `pgcdc <verb> --json | jq` never sees anything but the document.
import { createInterface } from 'node:readline/promises';
import { toJson } from '../ops/format.ts';
import { NotConfirmedError } from './exit-codes.ts';

/** Prints the verb's JSON document (one, on stdout). */
export function printJson(value: unknown): void {
  process.stdout.write(`${toJson(value)}\n`);
}

/** One line of text for people: stdout, or stderr when stdout carries the JSON document. */
export function note(json: boolean | undefined, line: string): void {
  if (json) process.stderr.write(`${line}\n`);
  else process.stdout.write(`${line}\n`);
}

/**
 * One JSON document whose `key` array is written item by item as it is read (a dead-letter topic
 * can be larger than memory): `{ ...head, "<key>": [ ... ], ...tail }`. Pure text assembly over a
 * `write` function, so the document is the same as `toJson` of the whole object would print.
 */
export function streamJsonArray(
  head: Record<string, unknown>,
  key: string,
  write: (s: string) => void = (s) => process.stdout.write(s),
) {
  const indent = (s: string, by: string) => s.replace(/\n/g, `\n${by}`);
  const open = toJson(head).replace(/\n?}$/, '');
  write(`${open}${Object.keys(head).length ? ',' : ''}\n  ${JSON.stringify(key)}: [`);
  let n = 0;
  return {
    item(value: unknown) {
      write(`${n++ === 0 ? '' : ','}\n    ${indent(toJson(value), '    ')}`);
    },
    end(tail: Record<string, unknown>) {
      const rest = Object.entries(tail).map(
        ([k, v]) => `,\n  ${JSON.stringify(k)}: ${indent(toJson(v), '  ')}`,
      );
      write(`${n ? '\n  ' : ''}]${rest.join('')}\n}\n`);
    },
  };
}

export interface ConfirmOpts {
  yes?: boolean;
  dryRun?: boolean;
  json?: boolean;
}

/**
 * Whether a verb that skips or deletes data may go ahead: `--dry-run` previews only ('preview'),
 * `--yes` goes ahead; otherwise, on a terminal (and without --json) the operator is asked, and
 * anywhere else (a script, CI) it is refused with NotConfirmedError (exit code 2), nothing done.
 * The caller has printed the preview already.
 */
export async function confirm(opts: ConfirmOpts, action: string): Promise<'preview' | 'go'> {
  if (opts.dryRun) return 'preview';
  if (opts.yes) return 'go';
  const refuse = (why: string) =>
    new NotConfirmedError(`${action}: not confirmed (${why}); nothing was done`, {
      hint: 'add --yes to do it (--dry-run shows what it would do)',
    });
  if (!process.stdin.isTTY || !process.stderr.isTTY || opts.json) throw refuse('no --yes');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`${action}? type yes to go ahead: `);
    if (answer.trim().toLowerCase() !== 'yes') throw refuse('answered no');
    return 'go';
  } finally {
    rl.close();
  }
}
