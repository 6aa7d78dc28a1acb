// What the development tools print (the demo, the bench, the local stack's CLI) never carries a
// password: every line they print goes through redactSecrets, which masks the password of any
// connection URL (scheme://user:password@host) and of any libpq key=value string in the text.
// The pipeline's own logs do the same with pipeline/observability/logger.ts (redactUrl, pino paths).

const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*):[^\s@/]*@/gi;
const CONNINFO_PASSWORD = /\b(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&]+)/gi;

/** `postgres://app:s3cret@db/x` -> `postgres://app:***@db/x`; `password=s3cret` -> `password=***`. */
export function redactSecrets(text: string): string {
  return text.replace(URL_CREDENTIALS, '$1:***@').replace(CONNINFO_PASSWORD, '$1***');
}
