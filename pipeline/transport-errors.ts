// Pure: what a failed TLS handshake or authentication means and what to do about it, for every
// secured connection (Kafka, schema registry, PostgreSQL, webhook receiver). Reads the error chain
// (cause, originalError) for Node's TLS codes, the pg driver's and kafkajs's messages. Used by the
// Kafka client factory (its errors and log lines) and by `pgcdc check` (ops/check/transport.ts).
// Nothing here quotes a secret: only codes, mechanisms, user names and setting keys.

export type TransportSystem = 'kafka' | 'registry' | 'postgres' | 'webhook';

export type TransportProblem =
  | 'unknown-ca'
  | 'wrong-host'
  | 'expired'
  | 'not-yet-valid'
  | 'not-tls'
  | 'tls-required'
  | 'mechanism'
  | 'authentication'
  | 'client-certificate';

export interface TransportExplanation {
  problem: TransportProblem;
  /** one line: what went wrong */
  message: string;
  /** the setting to change and how */
  fix: string;
}

/** Where a connection's settings live, for the fix lines. */
export interface TransportContext {
  system: TransportSystem;
  /** the configuration section, e.g. kafka, registry, source, targets[0] */
  section: string;
  /** the SASL mechanism or user when configured (Kafka) */
  sasl?: { mechanism: string; username?: string | undefined } | undefined;
  tls: boolean;
}

const UNKNOWN_CA = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_SIGNATURE_FAILURE',
]);

/** The codes and messages of an error and its causes. */
function chain(err: unknown): { codes: string[]; text: string; names: string[] } {
  const codes: string[] = [];
  const names: string[] = [];
  const texts: string[] = [];
  let e = err as {
    code?: unknown;
    name?: unknown;
    message?: unknown;
    cause?: unknown;
    originalError?: unknown;
  };
  for (let i = 0; e && typeof e === 'object' && i < 6; i++) {
    if (typeof e.code === 'string') codes.push(e.code);
    if (typeof e.name === 'string') names.push(e.name);
    if (typeof e.message === 'string') texts.push(e.message);
    e = (e.cause ?? e.originalError) as typeof e;
  }
  if (typeof err === 'string') texts.push(err);
  return { codes, names, text: texts.join(' | ') };
}

const caKey = (c: TransportContext) => `${c.section}.tls.caFile`;

export function explainTransportError(err: unknown, c: TransportContext): TransportExplanation | undefined {
  const { codes, names, text } = chain(err);
  const has = (s: Set<string> | string[]) => codes.some((x) => (s instanceof Set ? s.has(x) : s.includes(x)));
  const peer = c.system === 'kafka' ? 'the broker' : 'the server';
  if (
    has(UNKNOWN_CA) ||
    /self[- ]signed certificate|unable to verify the first certificate|unable to get (local )?issuer/i.test(
      text,
    )
  )
    return {
      problem: 'unknown-ca',
      message: `TLS handshake failed: ${peer}'s certificate is not signed by a trusted CA (${codes.find((x) => UNKNOWN_CA.has(x)) ?? 'unknown CA'})`,
      fix: `set ${caKey(c)} to the CA bundle that signed ${peer}'s certificate (a private CA is not in the system store)`,
    };
  if (has(['ERR_TLS_CERT_ALTNAME_INVALID']) || /Hostname\/IP does not match certificate/i.test(text))
    return {
      problem: 'wrong-host',
      message: `TLS handshake failed: ${peer}'s certificate is not issued for the host connected to (ERR_TLS_CERT_ALTNAME_INVALID)`,
      fix:
        c.system === 'kafka'
          ? `connect by a name the certificate carries (kafka.brokers and the advertised listeners), or set kafka.tls.servername to it`
          : c.system === 'postgres'
            ? `connect by a host name the certificate carries (${c.section}.url), or reissue the certificate; ${c.section}.tls.mode: verify-ca skips the host check`
            : `use a URL whose host the certificate carries, or reissue the certificate`,
    };
  if (has(['CERT_HAS_EXPIRED']) || /certificate has expired/i.test(text))
    return {
      problem: 'expired',
      message: `TLS handshake failed: ${peer}'s certificate has expired (CERT_HAS_EXPIRED)`,
      fix: `renew ${peer}'s certificate (or check this host's clock)`,
    };
  if (has(['CERT_NOT_YET_VALID']))
    return {
      problem: 'not-yet-valid',
      message: `TLS handshake failed: ${peer}'s certificate is not valid yet (CERT_NOT_YET_VALID)`,
      fix: "check this host's clock and the certificate's notBefore date",
    };
  if (/wrong version number|packet length too long|unknown protocol|ERR_SSL_WRONG_VERSION_NUMBER/i.test(text))
    return {
      problem: 'not-tls',
      message: `TLS handshake failed: ${peer} does not speak TLS on that port`,
      fix: `point ${c.section} at the TLS listener/port, or remove ${c.section}.tls if this one is plain`,
    };
  if (/does not support SSL connections/i.test(text))
    return {
      problem: 'not-tls',
      message: 'the PostgreSQL server does not accept TLS (ssl = off)',
      fix: `turn ssl on in the server (postgresql.conf), or remove ${c.section}.tls`,
    };
  if (/no pg_hba\.conf entry .*no encryption/i.test(text))
    return {
      problem: 'tls-required',
      message: 'the PostgreSQL server refuses connections without TLS (pg_hba.conf hostssl)',
      fix: `set ${c.section}.tls (mode verify-full with caFile: the server's CA)`,
    };
  if (
    /certificate required|alert handshake failure|alert bad certificate|sslv3 alert|tlsv13 alert certificate required/i.test(
      text,
    )
  )
    return {
      problem: 'client-certificate',
      message: `TLS handshake refused by ${peer}: it wants a client certificate it trusts (mutual TLS)`,
      fix: `set ${c.section}.tls.certFile and keyFile to a client certificate ${peer}'s CA signed`,
    };
  if (/UNSUPPORTED_SASL_MECHANISM|Unsupported SASL mechanism|SASL mechanism .* not supported/i.test(text))
    return {
      problem: 'mechanism',
      message: `the broker does not offer SASL mechanism ${c.sasl?.mechanism ?? '(none)'} on this listener`,
      fix: 'set kafka.sasl.mechanism to one the listener enables (sasl.enabled.mechanisms: e.g. SCRAM-SHA-512), and check kafka.brokers is the SASL listener',
    };
  if (
    names.includes('KafkaJSSASLAuthenticationError') ||
    /SASL .*authentication failed|SaslAuthenticationException|Authentication failed during authentication/i.test(
      text,
    )
  )
    return {
      problem: 'authentication',
      message: `SASL ${c.sasl?.mechanism ?? ''} authentication failed for user ${c.sasl?.username ?? '(none)'}: the user is unknown to the broker, or the password is wrong (Kafka does not say which)`,
      fix: `check kafka.sasl.username and the password (kafka.sasl.password/passwordFile); create the user with kafka-configs --alter --add-config 'SCRAM-SHA-512=[password=...]' --entity-type users --entity-name <user>; the mechanism must match the one the user was created with`,
    };
  if (has(['28P01']) || /password authentication failed/i.test(text))
    return {
      problem: 'authentication',
      message: 'PostgreSQL refused the password (28P01)',
      fix: `fix the user or password in ${c.section}.url`,
    };
  return undefined;
}

/** The HTTP statuses of a refused credential, explained (registry, webhook receiver). */
export function explainHttpRefusal(status: number, c: TransportContext): TransportExplanation | undefined {
  if (status === 401)
    return {
      problem: 'authentication',
      message: `${c.section} refused the credentials (HTTP 401)`,
      fix: `check ${c.section}.auth (user and password, or token); never put credentials into the URL`,
    };
  if (status === 403)
    return {
      problem: 'authentication',
      message: `${c.section} denies this user access (HTTP 403)`,
      fix: `grant the user of ${c.section}.auth read/write on the subjects, or use another user`,
    };
  return undefined;
}
