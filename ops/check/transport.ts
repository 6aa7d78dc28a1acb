// `pgcdc check` for secured connections: a failed TLS handshake or authentication, explained with
// the fix (wrong CA, host name not in the certificate, expired certificate, wrong SASL mechanism,
// unknown SASL user or wrong password, a registry refusing the credentials, a server without or
// requiring TLS). The explanations themselves are pure (pipeline/transport-errors.ts) and shared
// with the running pipeline, so check and the logs say the same thing.
import {
  explainHttpRefusal,
  explainTransportError,
  type TransportContext,
} from '../../pipeline/transport-errors.ts';
import type { Config } from '../../pipeline/config/schema.ts';
import { error, type CheckResult } from './types.ts';

/** The finding for a connection that failed: explained when it is a transport problem, else `fallback`. */
export function connectionFailure(
  id: string,
  err: unknown,
  context: TransportContext,
  fallback: { message: string; fix: string },
  what: string,
): CheckResult {
  const explained = explainTransportError(err, context);
  return explained
    ? error(id, `${what}: ${explained.message}`, explained.fix)
    : error(id, fallback.message, fallback.fix);
}

/** A registry's answer that refuses the credentials (401/403), explained; undefined for any other status. */
export function registryRefusal(id: string, status: number, shown: string): CheckResult | undefined {
  const explained = explainHttpRefusal(status, { system: 'registry', section: 'registry', tls: false });
  return explained && error(id, `registry ${shown}: ${explained.message}`, explained.fix);
}

export function kafkaContext(config: Config): TransportContext {
  const sasl = config.kafka.sasl;
  return {
    system: 'kafka',
    section: 'kafka',
    tls: config.kafka.tls !== undefined,
    sasl: sasl && {
      mechanism: sasl.mechanism,
      username: sasl.mechanism === 'oauthbearer' ? undefined : sasl.username,
    },
  };
}

export const pgContext = (section: string, tls: boolean): TransportContext => ({
  system: 'postgres',
  section,
  tls,
});
