// Reads a secret or certificate named by the configuration (${file:/run/secrets/x}, passwordFile,
// caFile, ...): the content without its final newline (what `echo secret > file` leaves), or a
// ConfigError naming the key and the file (never the content). What it reads is remembered as a
// secret (observability/secrets.ts), so no log line or message can carry it.
import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors.ts';
import { rememberSecrets } from '../observability/secrets.ts';

export function readSecretFile(file: string, key: string): string {
  try {
    const value = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    rememberSecrets([value]);
    return value;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new ConfigError(`config ${key || '(root)'}: cannot read ${file} (${code})`, {
      hint: `make ${file} readable by this process (a mounted secret?), or fix ${key}`,
      cause: err,
    });
  }
}
