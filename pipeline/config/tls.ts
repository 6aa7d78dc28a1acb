// Transport security settings, declared once and plugged into the sections that open connections:
// kafka.tls / kafka.sasl (kafka.ts), registry.auth / registry.tls (kafka.ts), source.tls and a
// Postgres target's tls (source.ts, targets.ts), a webhook target's tls (targets.ts). Pure schema:
// the files named here are read where the clients are built (pipeline/transport.ts), so a rotated
// certificate or token is picked up by the next connection. Every secret may be given inline (use
// ${ENV} or ${file:/run/secrets/x}) or as a *File key; secretValuesOf lists them for redaction.
import { z } from 'zod';

const pemOrFile = (what: string) => ({
  ca: z.string().min(1).optional().describe(`${what}: CA bundle (PEM text) to verify the server with`),
  caFile: z.string().min(1).optional().describe(`${what}: file holding the CA bundle (PEM)`),
  cert: z.string().min(1).optional().describe(`${what}: client certificate (PEM text), for mutual TLS`),
  certFile: z.string().min(1).optional().describe(`${what}: file holding the client certificate (PEM)`),
  key: z
    .string()
    .min(1)
    .optional()
    .describe(`${what}: client private key (PEM text), for mutual TLS; a secret`),
  keyFile: z.string().min(1).optional().describe(`${what}: file holding the client private key (PEM)`),
});

interface PemFields {
  ca?: string | undefined;
  caFile?: string | undefined;
  cert?: string | undefined;
  certFile?: string | undefined;
  key?: string | undefined;
  keyFile?: string | undefined;
}

/** One of `a` / `aFile` at most; a client certificate and its key come together. */
function checkPem(t: PemFields, ctx: z.RefinementCtx): void {
  for (const k of ['ca', 'cert', 'key'] as const) {
    if (t[k] !== undefined && t[`${k}File`] !== undefined)
      ctx.addIssue({ code: 'custom', path: [k], message: `give ${k} or ${k}File, not both` });
  }
  const cert = t.cert !== undefined || t.certFile !== undefined;
  const key = t.key !== undefined || t.keyFile !== undefined;
  if (cert !== key)
    ctx.addIssue({
      code: 'custom',
      path: [cert ? 'key' : 'cert'],
      message: 'a client certificate needs its key (cert/certFile with key/keyFile)',
    });
}

/** A secret given inline or as a file: exactly one of the two. */
function oneOf(t: Record<string, unknown>, inline: string, ctx: z.RefinementCtx): void {
  const n = Number(t[inline] !== undefined) + Number(t[`${inline}File`] !== undefined);
  if (n !== 1)
    ctx.addIssue({
      code: 'custom',
      path: [inline],
      message: `give exactly one of ${inline} or ${inline}File`,
    });
}

const rejectUnauthorized = z
  .boolean()
  .default(true)
  .describe(
    "verify the server's certificate chain and host name; false accepts any server (a warning is logged at every start): tests only",
  );

export const KafkaTlsSchema = z
  .object({
    ...pemOrFile('Kafka TLS'),
    servername: z
      .string()
      .min(1)
      .optional()
      .describe('TLS server name (SNI) and the name the certificate must carry; default the broker host'),
    rejectUnauthorized,
  })
  .strict()
  .superRefine(checkPem)
  .describe('TLS to the brokers (SSL or SASL_SSL listeners); {} = TLS verified against the system CAs');

const secretUser = (mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512') =>
  z
    .object({
      mechanism: z.literal(mechanism),
      username: z.string().min(1).describe('SASL user name'),
      password: z.string().min(1).optional().describe('SASL password (a secret: use ${ENV} or ${file:...})'),
      passwordFile: z.string().min(1).optional().describe('file holding the SASL password'),
    })
    .strict()
    .superRefine((s, ctx) => oneOf(s, 'password', ctx));

export const KafkaSaslSchema = z
  .discriminatedUnion('mechanism', [
    secretUser('plain'),
    secretUser('scram-sha-256'),
    secretUser('scram-sha-512'),
    z
      .object({
        mechanism: z.literal('oauthbearer'),
        token: z.string().min(1).optional().describe('OAuth bearer token (a secret)'),
        tokenFile: z
          .string()
          .min(1)
          .optional()
          .describe(
            'file holding the token, read again at every (re)authentication: a token refresher may rewrite it',
          ),
      })
      .strict()
      .superRefine((s, ctx) => oneOf(s, 'token', ctx)),
  ])
  .describe(
    'SASL authentication (usually with kafka.tls: SASL_SSL); PLAIN without TLS sends the password in clear',
  );

export const RegistryAuthSchema = z
  .discriminatedUnion('type', [
    z
      .object({
        type: z.literal('basic'),
        username: z.string().min(1).describe('registry user (Confluent Cloud: the API key)'),
        password: z.string().min(1).optional().describe('registry password / API secret (a secret)'),
        passwordFile: z.string().min(1).optional().describe('file holding the registry password'),
      })
      .strict()
      .superRefine((s, ctx) => oneOf(s, 'password', ctx)),
    z
      .object({
        type: z.literal('bearer'),
        token: z.string().min(1).optional().describe('bearer token sent as "Authorization: Bearer <token>"'),
        tokenFile: z
          .string()
          .min(1)
          .optional()
          .describe('file holding the token, read again at every request'),
      })
      .strict()
      .superRefine((s, ctx) => oneOf(s, 'token', ctx)),
  ])
  .describe('credentials for the schema registry (never put them into registry.url)');

/** TLS of an HTTPS client (registry, webhook receiver): a private CA, a client certificate. */
export const HttpsTlsSchema = z
  .object({ ...pemOrFile('HTTPS'), rejectUnauthorized })
  .strict()
  .superRefine(checkPem);

export const PG_TLS_MODES = ['verify-full', 'verify-ca', 'no-verify'] as const;

export const PgTlsSchema = z
  .object({
    mode: z
      .enum(PG_TLS_MODES)
      .default('verify-full')
      .describe(
        'verify-full: the certificate chains to the CA and names the host; verify-ca: chain only; no-verify: encrypted, but any server is accepted (a warning is logged). Omit tls for a plain connection',
      ),
    ...pemOrFile('PostgreSQL TLS'),
  })
  .strict()
  .superRefine(checkPem)
  .describe(
    'TLS to PostgreSQL, verify-full by default; the URL must then carry no ssl/sslmode parameters (docs/security.md: the pg driver reads sslmode=require as verify-full)',
  );

export type KafkaTlsConfig = z.output<typeof KafkaTlsSchema>;
export type KafkaSaslConfig = z.output<typeof KafkaSaslSchema>;
export type RegistryAuthConfig = z.output<typeof RegistryAuthSchema>;
export type HttpsTlsConfig = z.output<typeof HttpsTlsSchema>;
export type PgTlsConfig = z.output<typeof PgTlsSchema>;
export type PemConfig = PemFields;

const SSL_URL_PARAMS = /[?&](ssl|sslmode|sslrootcert|sslcert|sslkey|uselibpqcompat)=/i;

/** A `tls` section beside a URL that sets TLS itself: the driver lets the URL win, silently. */
export function urlTlsConflict(url: string, tls: PgTlsConfig | undefined): boolean {
  return tls !== undefined && SSL_URL_PARAMS.test(url);
}

export const URL_TLS_CONFLICT =
  'the URL sets TLS itself (ssl/sslmode/sslrootcert/...) and the pg driver would let it override tls: remove those parameters from the URL, tls alone decides';

/** Every secret value held inline in these sections (for redaction; files are read later). */
export function secretValuesOf(parts: {
  sasl?: KafkaSaslConfig | undefined;
  auth?: RegistryAuthConfig | undefined;
  tls?: PemFields | undefined;
}): string[] {
  const out: string[] = [];
  const s = parts.sasl;
  if (s) out.push(...[s.mechanism === 'oauthbearer' ? s.token : s.password].filter(isString));
  const a = parts.auth;
  if (a) out.push(...[a.type === 'bearer' ? a.token : a.password].filter(isString));
  if (parts.tls?.key) out.push(parts.tls.key);
  return out;
}

const isString = (v: unknown): v is string => typeof v === 'string';

/**
 * The TLS of every configured database, for the one connection factory (pipeline/postgres.ts),
 * which finds a connection's settings by its URL: every connection to that database (replication,
 * source queries, positions, target apply, operator verbs) gets them.
 */
export function pgTlsEntries(
  source: { url: string; tls?: PgTlsConfig | undefined },
  targets: ReadonlyArray<{ type: string; name: string; url: string; tls?: unknown }>,
): Array<{ database: string; at: string; tls: PgTlsConfig }> {
  const out = source.tls ? [{ database: databaseOf(source.url), at: 'source.tls', tls: source.tls }] : [];
  targets.forEach((t, i) => {
    if (t.type === 'postgres' && t.tls)
      out.push({ database: databaseOf(t.url), at: `targets[${i}].tls`, tls: t.tls as PgTlsConfig });
  });
  return out;
}

/** A URL without its password: what the connection factory matches on (and may show). */
export function databaseOf(url: string): string {
  try {
    const u = new URL(url);
    u.password = '';
    return u.toString();
  } catch {
    return url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1@');
  }
}
