// The secret values of this process (passwords in connection URLs, SASL passwords and tokens,
// registry credentials, TLS private keys, webhook signing secrets and header values, and every file
// read as a secret), remembered when the configuration is loaded so that no log line (any level,
// any field, kafkajs's own included), error message or operator output can carry one: the logger
// scrubs every line it writes, describeError and `pgcdc check` scrub their text. Key-based
// redaction (logger.ts) stays the first line of defence; this one catches what keys cannot.
import type { Config } from '../config/schema.ts';
import { secretValuesOf } from '../config/tls.ts';

const MASK = '[redacted]';
/** Shorter values are not secrets worth the false positives (a 1-character password is not one). */
const MIN_LENGTH = 4;
const secrets = new Set<string>();
let pattern: RegExp | undefined;

/** Remember secret values (and their JSON-escaped and URL-encoded forms) for scrubSecrets. */
export function rememberSecrets(values: Iterable<string | undefined>): void {
  let added = false;
  for (const v of values) {
    if (v === undefined || v.length < MIN_LENGTH) continue;
    for (const form of [v, JSON.stringify(v).slice(1, -1), encodeURIComponent(v), v.trim()]) {
      if (form.length >= MIN_LENGTH && !secrets.has(form)) {
        secrets.add(form);
        added = true;
      }
    }
  }
  if (added) {
    const alternatives = [...secrets]
      .sort((a, b) => b.length - a.length)
      .map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    pattern = new RegExp(alternatives.join('|'), 'g');
  }
}

/** `text` with every remembered secret replaced by [redacted]. */
export function scrubSecrets(text: string): string {
  return pattern ? text.replace(pattern, MASK) : text;
}

function urlPassword(url: string): string | undefined {
  try {
    const p = new URL(url).password;
    return p ? decodeURIComponent(p) : undefined;
  } catch {
    return /\/\/[^:/@]+:([^@]*)@/.exec(url)?.[1];
  }
}

/** Every secret value the configuration holds inline. */
export function configSecrets(config: Config): string[] {
  const out: Array<string | undefined> = [
    urlPassword(config.source.url),
    urlPassword(config.registry.url),
    ...secretValuesOf({ sasl: config.kafka.sasl, tls: config.kafka.tls }),
    ...secretValuesOf({ auth: config.registry.auth, tls: config.registry.tls }),
    ...secretValuesOf({ tls: config.source.tls }),
  ];
  for (const t of config.targets) {
    out.push(urlPassword(t.url), ...secretValuesOf({ tls: t.tls }));
    if (t.type === 'webhook') {
      out.push(t.secret, ...Object.values(t.headers));
      if (t.secret.startsWith('whsec_')) out.push(t.secret.slice('whsec_'.length));
    }
  }
  return out.filter((v): v is string => v !== undefined);
}
