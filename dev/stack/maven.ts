// Fetches artifacts from Maven Central with `mvn` into the cache folder, once (a marker file records
// a complete install, so a second run does no network work).
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { StackError } from '../../pipeline/errors.ts';
import { execFileP } from './process.ts';

export async function mavenOnce(
  what: string,
  targetDir: string,
  args: string[],
  log: (m: string) => void,
): Promise<void> {
  const marker = path.join(targetDir, '.complete');
  if (existsSync(marker)) return;
  mkdirSync(targetDir, { recursive: true });
  log(`downloading ${what} from Maven Central (first run only) ...`);
  try {
    await execFileP('mvn', ['-B', '-q', ...args], { maxBuffer: 64 << 20, cwd: targetDir });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    const out = `${e.stdout ?? ''}${e.stderr ?? ''}`.split('\n').filter(Boolean).slice(-15).join('\n');
    throw new StackError(`downloading ${what} with mvn failed:\n${out}`, {
      cause: err,
      hint: 'check that Maven Central is reachable (mvn -v; ~/.m2/settings.xml mirrors), then run again',
    });
  }
  writeFileSync(marker, new Date().toISOString());
}
