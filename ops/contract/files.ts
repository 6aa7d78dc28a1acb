// Writes a generated contract as `<table>-key.avsc` and `<table>-value.avsc` (2-space JSON, one
// trailing newline: the files are reviewed and versioned). Existing files are kept unless forced,
// so a reviewed contract is never overwritten by accident.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PgcdcError } from '../../pipeline/errors.ts';
import type { GeneratedContract } from './generate.ts';

export function contractFiles(dir: string, table: string): { key: string; value: string } {
  return { key: path.join(dir, `${table}-key.avsc`), value: path.join(dir, `${table}-value.avsc`) };
}

export const avscText = (schema: object): string => `${JSON.stringify(schema, null, 2)}\n`;

/** Writes both files into `dir` (created if missing); refuses to overwrite without `force`. */
export function writeContract(dir: string, table: string, c: GeneratedContract, force: boolean): string[] {
  const files = contractFiles(dir, table);
  const existing = [files.key, files.value].filter((f) => existsSync(f));
  if (existing.length > 0 && !force)
    throw new PgcdcError(`contract files exist: ${existing.join(', ')}`, {
      retriable: false,
      hint: 'see what would change with pgcdc contract diff, then pass --force to overwrite (and review the change)',
    });
  mkdirSync(dir, { recursive: true });
  writeFileSync(files.key, avscText(c.keySchema));
  writeFileSync(files.value, avscText(c.valueSchema));
  return [files.key, files.value];
}
