// Standard Webhooks signatures (https://www.standardwebhooks.com): the sender signs
// `${webhook-id}.${webhook-timestamp}.${body}` with HMAC-SHA256; receivers check the signature and
// that the timestamp is recent (replay protection). Self-contained (node:crypto only), so a
// receiver can import or copy this file.
import { createHmac, timingSafeEqual } from 'node:crypto';

/** A secret's key in base64 (standard alphabet, padded), with or without the `whsec_` prefix. */
export const WEBHOOK_SECRET_RE = /^(whsec_)?(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * The HMAC key of a secret, read as the reference Standard Webhooks libraries read it: an optional
 * `whsec_` prefix, then the key in base64. (A secret that is not base64 cannot be verified by
 * those libraries at all; the configuration refuses it.)
 */
export function webhookSecretKey(secret: string): Buffer {
  return Buffer.from(secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret, 'base64');
}

/** The `webhook-signature` header value: `v1,<base64 HMAC-SHA256>`. */
export function signWebhook(opts: {
  secret: string;
  id: string;
  timestamp: number;
  body: string | Uint8Array;
}): string {
  return signWithKey(webhookSecretKey(opts.secret), opts);
}

/** signWebhook with the secret's key already read (webhookSecretKey): a sender signing many requests. */
export function signWithKey(
  key: Buffer,
  opts: { id: string; timestamp: number; body: string | Uint8Array },
): string {
  const mac = createHmac('sha256', key)
    .update(`${opts.id}.${opts.timestamp}.`)
    .update(opts.body)
    .digest('base64');
  return `v1,${mac}`;
}

export type WebhookHeaders =
  | { get(name: string): string | null } // fetch's Headers
  | Record<string, string | string[] | undefined>; // node's IncomingHttpHeaders (lower-case names)

export type VerifyResult = { ok: true; id: string; timestamp: number } | { ok: false; reason: string };

function header(headers: WebhookHeaders, name: string): string | undefined {
  if (typeof headers.get === 'function')
    return (headers as { get(n: string): string | null }).get(name) ?? undefined;
  const rec = headers as Record<string, string | string[] | undefined>;
  const v = rec[name] ?? Object.entries(rec).find(([k]) => k.toLowerCase() === name)?.[1];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Checks a delivery: `body` must be the raw request body exactly as received (not re-serialized).
 * Rejects a missing or wrong signature and a timestamp more than `toleranceSeconds` (default 300)
 * away from `nowSeconds` (default: the clock).
 */
export function verifyWebhook(opts: {
  secret: string;
  headers: WebhookHeaders;
  body: string | Uint8Array;
  toleranceSeconds?: number;
  nowSeconds?: number;
}): VerifyResult {
  const id = header(opts.headers, 'webhook-id');
  const ts = header(opts.headers, 'webhook-timestamp');
  const sig = header(opts.headers, 'webhook-signature');
  if (!id || !ts || !sig)
    return { ok: false, reason: 'missing webhook-id, webhook-timestamp or webhook-signature' };
  if (!/^\d+$/.test(ts)) return { ok: false, reason: 'webhook-timestamp is not unix seconds' };
  const timestamp = Number(ts);
  const now = opts.nowSeconds ?? Math.floor(Date.now() / 1000);
  const tolerance = opts.toleranceSeconds ?? 300;
  if (Math.abs(now - timestamp) > tolerance)
    return { ok: false, reason: `webhook-timestamp is outside the tolerance of ${tolerance} s` };
  const expected = Buffer.from(
    signWebhook({ secret: opts.secret, id, timestamp, body: opts.body }).slice(3),
    'base64',
  );
  // The header may carry several space-separated signatures (key rotation): one match is enough.
  for (const candidate of sig.split(' ')) {
    const [version, value] = candidate.split(',', 2);
    if (version !== 'v1' || !value) continue;
    const given = Buffer.from(value, 'base64');
    if (given.length === expected.length && timingSafeEqual(given, expected))
      return { ok: true, id, timestamp };
  }
  return { ok: false, reason: 'no matching v1 signature' };
}
