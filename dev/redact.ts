// What the development tools print (the demo, the bench, the local stack's CLI) never carries a
// password: every line they print goes through redactSecrets, which masks the password of any
// connection URL (scheme://user:password@host) and of any libpq key=value string in the text.
// The pipeline's own logs do the same with pipeline/observability/logger.ts (redactUrl, pino paths).
// Every secret value of a loaded configuration (SASL and registry passwords, tokens, TLS keys,
// webhook secrets: pipeline/observability/secrets.ts) is masked too, and any `"password": "..."`,
// `"token": "..."` or `"secret": "..."` field of JSON text.
import { scrubSecrets } from '../pipeline/observability/secrets.ts';

const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*):[^\s@/]*@/gi;
const CONNINFO_PASSWORD = /\b(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&]+)/gi;
const JSON_SECRET = /("(?:password|token|secret|passphrase|authorization)"\s*:\s*)"(?:[^"\\]|\\.)*"/gi;

/** `postgres://app:s3cret@db/x` -> `postgres://app:***@db/x`; `password=s3cret` -> `password=***`. */
export function redactSecrets(text: string): string {
  return scrubSecrets(text)
    .replace(URL_CREDENTIALS, '$1:***@')
    .replace(CONNINFO_PASSWORD, '$1***')
    .replace(JSON_SECRET, '$1"***"');
}
