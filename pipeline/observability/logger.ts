// Structured logging (pino). Secrets are redacted by key name; URLs are logged through redactUrl();
// and every line is scrubbed of the secret values the configuration holds (secrets.ts) before it
// is written, whatever its level and wherever in the line the value hides.
import { pino, type Logger } from 'pino';
import { scrubSecrets } from './secrets.ts';

export type { Logger };

export interface LoggerOptions {
  level?: string;
  pretty?: boolean;
  /** Colour in pretty logs (default none: the CLI decides from NO_COLOR / FORCE_COLOR / the TTY). */
  colour?: boolean;
  name?: string;
  /** Write the JSON lines to this file (appended, folders created) instead of stderr. */
  file?: string;
}

const REDACT_PATHS = [
  'password',
  '*.password',
  'secret',
  '*.secret',
  '*.*.password',
  '*.*.*.password',
  'token',
  '*.token',
  '*.*.token',
  'passphrase',
  '*.passphrase',
  'tls.key',
  '*.tls.key',
  '*.*.tls.key',
  'ssl.key',
  '*.ssl.key',
  'authorization',
  'headers.authorization',
  '*.headers.authorization',
  '*.*.headers.authorization',
];

export function createLogger(opts: LoggerOptions = {}): Logger {
  const options = {
    level: opts.level ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    hooks: { streamWrite: scrubSecrets },
    ...(opts.name ? { name: opts.name } : {}),
  };
  if (opts.file) {
    return pino(options, pino.destination({ dest: opts.file, mkdir: true, append: true, sync: true }));
  }
  if (opts.pretty) {
    return pino({
      ...options,
      transport: {
        target: 'pino-pretty',
        options: { colorize: opts.colour ?? false, ignore: 'pid,hostname', destination: 2 },
      },
    });
  }
  return pino(options, pino.destination(2));
}

/** postgres://user:secret@host/db -> postgres://user:***@host/db */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
  }
}
