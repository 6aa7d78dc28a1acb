// consumers/webhook/verify.ts: Standard Webhooks signing and verification. The known vectors were
// computed independently with openssl, e.g.
//   printf '%s' 'msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{"test": 2432232314}' \
//     | openssl dgst -sha256 -mac HMAC -macopt hexkey:$(printf MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw | base64 -d | xxd -p -c 256) -binary | base64
// (also the example of the Standard Webhooks specification); every signature is also checked
// against the reference library (`standardwebhooks`), which is what receivers use.
import fc from 'fast-check';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { signWebhook, verifyWebhook, webhookSecretKey } from '../../../../consumers/webhook/verify.ts';

const SPEC = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};

const headersOf = (id: string, timestamp: number, signature: string) => ({
  'webhook-id': id,
  'webhook-timestamp': String(timestamp),
  'webhook-signature': signature,
});

describe('signWebhook', () => {
  it('matches the openssl vector for a whsec_ (base64) secret', () => {
    expect(signWebhook(SPEC)).toBe(SPEC.signature);
  });

  it('reads a secret without the whsec_ prefix as the same base64 key, as the reference library does', () => {
    expect(webhookSecretKey('whsec_AAEC').equals(Buffer.from([0, 1, 2]))).toBe(true);
    expect(webhookSecretKey('AAEC').equals(Buffer.from([0, 1, 2]))).toBe(true);
    const bare = SPEC.secret.slice('whsec_'.length);
    expect(signWebhook({ ...SPEC, secret: bare })).toBe(SPEC.signature);
    expect(new Webhook(bare).sign(SPEC.id, new Date(SPEC.timestamp * 1000), SPEC.body)).toBe(SPEC.signature);
  });

  it('agrees with the reference library for any key, id, timestamp and body, with and without whsec_ (property)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 64 }),
        fc.boolean(),
        fc.string({ minLength: 1 }),
        fc.integer({ min: 1, max: 4_000_000_000 }),
        fc.string({ unit: 'grapheme' }),
        (key, prefixed, id, timestamp, body) => {
          const secret = `${prefixed ? 'whsec_' : ''}${Buffer.from(key).toString('base64')}`;
          const ours = signWebhook({ secret, id, timestamp, body });
          expect(ours).toBe(new Webhook(secret).sign(id, new Date(timestamp * 1000), body));
        },
      ),
    );
  });

  it('signs bytes and the same text identically', () => {
    const body = '{"name":"Ægir ✓"}';
    expect(signWebhook({ ...SPEC, body: Buffer.from(body) })).toBe(signWebhook({ ...SPEC, body }));
  });
});

describe('verifyWebhook', () => {
  const now = SPEC.timestamp + 10;
  const ok = (over: Partial<Parameters<typeof verifyWebhook>[0]> = {}) =>
    verifyWebhook({
      secret: SPEC.secret,
      headers: headersOf(SPEC.id, SPEC.timestamp, SPEC.signature),
      body: SPEC.body,
      nowSeconds: now,
      ...over,
    });

  it('accepts the spec example', () => {
    expect(ok()).toEqual({ ok: true, id: SPEC.id, timestamp: SPEC.timestamp });
  });

  it('accepts fetch Headers and raw bytes', () => {
    const headers = new Headers(headersOf(SPEC.id, SPEC.timestamp, SPEC.signature));
    expect(ok({ headers, body: Buffer.from(SPEC.body) }).ok).toBe(true);
  });

  it('accepts one matching signature among several (key rotation)', () => {
    const sig = `v1,${Buffer.alloc(32).toString('base64')} v2,xyz ${SPEC.signature}`;
    expect(ok({ headers: headersOf(SPEC.id, SPEC.timestamp, sig) }).ok).toBe(true);
  });

  it.each([
    ['another body', { body: '{"test": 2432232315}' }],
    ['another secret', { secret: 'whsec_' + Buffer.from('other key').toString('base64') }],
    ['another id', { headers: headersOf('msg_other', SPEC.timestamp, SPEC.signature) }],
    [
      'another timestamp',
      { headers: headersOf(SPEC.id, SPEC.timestamp + 1, SPEC.signature), nowSeconds: now },
    ],
    ['a v2 scheme', { headers: headersOf(SPEC.id, SPEC.timestamp, SPEC.signature.replace('v1,', 'v2,')) }],
    ['a truncated signature', { headers: headersOf(SPEC.id, SPEC.timestamp, SPEC.signature.slice(0, 20)) }],
    [
      'no signature header',
      { headers: { 'webhook-id': SPEC.id, 'webhook-timestamp': String(SPEC.timestamp) } },
    ],
  ])('rejects %s', (_what, over) => {
    const res = ok(over);
    expect(res.ok).toBe(false);
  });

  it('rejects timestamps outside the tolerance, both ways', () => {
    expect(ok({ nowSeconds: SPEC.timestamp + 301 })).toEqual({
      ok: false,
      reason: 'webhook-timestamp is outside the tolerance of 300 s',
    });
    expect(ok({ nowSeconds: SPEC.timestamp - 301 }).ok).toBe(false);
    expect(ok({ nowSeconds: SPEC.timestamp + 300 }).ok).toBe(true);
    expect(ok({ nowSeconds: SPEC.timestamp + 30, toleranceSeconds: 10 }).ok).toBe(false);
  });

  it('rejects a non-numeric timestamp', () => {
    expect(ok({ headers: headersOf(SPEC.id, NaN, SPEC.signature) }).ok).toBe(false);
  });

  it('round-trips any body, id and secret (property)', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1 }),
        fc.string({ minLength: 1 }).filter((s) => !s.includes('\n')),
        fc.uint8Array({ minLength: 1, maxLength: 64 }),
        fc.integer({ min: 0, max: 2 ** 40 }),
        (body, id, key, timestamp) => {
          const secret = `whsec_${Buffer.from(key).toString('base64')}`;
          const signature = signWebhook({ secret, id, timestamp, body });
          const headers = headersOf(id, timestamp, signature);
          expect(verifyWebhook({ secret, headers, body, nowSeconds: timestamp }).ok).toBe(true);
          expect(verifyWebhook({ secret, headers, body: body + ' ', nowSeconds: timestamp }).ok).toBe(false);
        },
      ),
    );
  });
});
