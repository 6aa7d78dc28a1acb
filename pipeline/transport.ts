// Transport security material for every client the composition root builds, from the
// configuration (config/tls.ts): TLS material read from the files named there (at client
// construction, so a rotated certificate is used by the next client), registry credentials, and
// PostgreSQL's `ssl` options per mode. A file that cannot be read is a ConfigError naming its key;
// no function here ever puts a secret into a message.
import type { ConnectionOptions } from 'node:tls';
import { readSecretFile } from './config/secret-file.ts';
import type { RegistryAccess, RegistryTls } from '../schemas/registry-access.ts';
import type { RegistryConfig } from './config/kafka.ts';
import type { HttpsTlsConfig, PemConfig, PgTlsConfig, RegistryAuthConfig } from './config/tls.ts';

export interface TlsMaterial {
  ca?: string;
  cert?: string;
  key?: string;
}

/** The PEM texts of a tls section (inline or read from their *File keys); `at` names the section. */
export function tlsMaterial(t: PemConfig, at: string): TlsMaterial {
  const out: TlsMaterial = {};
  for (const k of ['ca', 'cert', 'key'] as const) {
    const file = t[`${k}File`];
    const v = t[k] ?? (file === undefined ? undefined : readSecretFile(file, `${at}.${k}File`));
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/** Node TLS options of an HTTPS client (registry, webhook receiver). */
export function httpsTlsOptions(t: HttpsTlsConfig | undefined, at: string): RegistryTls | undefined {
  if (!t) return undefined;
  return { ...tlsMaterial(t, at), rejectUnauthorized: t.rejectUnauthorized };
}

/**
 * The `ssl` option of a pg client for a tls section. verify-full: chain and host name (node's
 * default check); verify-ca: chain only; no-verify: any certificate (encrypted, unauthenticated).
 */
export function pgSslOptions(t: PgTlsConfig, at: string): ConnectionOptions {
  const material = tlsMaterial(t, at);
  switch (t.mode) {
    case 'verify-full':
      return { ...material, rejectUnauthorized: true };
    case 'verify-ca':
      return { ...material, rejectUnauthorized: true, checkServerIdentity: () => undefined };
    case 'no-verify':
      return { ...material, rejectUnauthorized: false };
    default:
      return t.mode satisfies never;
  }
}

/** The Authorization header of the registry's credentials (a password or token file is read each time). */
export function registryAuthorization(auth: RegistryAuthConfig | undefined): (() => string) | undefined {
  if (!auth) return undefined;
  switch (auth.type) {
    case 'basic': {
      // a password file is read at every request: a rotated secret is used without a restart
      const { username, password, passwordFile } = auth;
      return () => {
        const secret = password ?? readSecretFile(passwordFile ?? '', 'registry.auth.passwordFile');
        return `Basic ${Buffer.from(`${username}:${secret}`).toString('base64')}`;
      };
    }
    case 'bearer': {
      const { token, tokenFile } = auth;
      return () => `Bearer ${token ?? readSecretFile(tokenFile ?? '', 'registry.auth.tokenFile')}`;
    }
    default:
      return auth satisfies never;
  }
}

/** The registry section as the registry clients take it (schemas/registry-access.ts). */
export function registryAccessOf(registry: RegistryConfig): RegistryAccess {
  return {
    url: registry.url,
    authorization: registryAuthorization(registry.auth),
    tls: httpsTlsOptions(registry.tls, 'registry.tls'),
  };
}

/** The keys that turn a certificate check off (kafka.tls's is warned about by the Kafka factory). */
export function insecureSettings(config: {
  registry: RegistryConfig;
  source: { tls?: PgTlsConfig | undefined };
  targets: ReadonlyArray<{ type: string; tls?: { rejectUnauthorized?: boolean; mode?: string } | undefined }>;
}): string[] {
  const out: string[] = [];
  if (config.registry.tls?.rejectUnauthorized === false) out.push('registry.tls.rejectUnauthorized: false');
  if (config.source.tls?.mode === 'no-verify') out.push('source.tls.mode: no-verify');
  config.targets.forEach((t, i) => {
    if (t.tls?.mode === 'no-verify') out.push(`targets[${i}].tls.mode: no-verify`);
    if (t.tls?.rejectUnauthorized === false) out.push(`targets[${i}].tls.rejectUnauthorized: false`);
  });
  return out;
}
