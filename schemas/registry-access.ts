// How pgcdc reaches the schema registry: its base URL, the Authorization header of its credentials
// (basic or bearer, computed per request so a rotated token file is read again) and the TLS options
// of an https:// registry (a private CA, a client certificate). Every registry request (the
// registry client's, writer schema fetches, `pgcdc check`) goes through registryFetch or the client
// built by registryClientOptions, so credentials never need to be in the URL, and the URL that
// appears in messages carries none.
import https from 'node:https';

import type { SchemaRegistryAPIClientArgs } from '@kafkajs/confluent-schema-registry/dist/api/index.js';
import { Agent, fetch as undiciFetch } from 'undici';

export interface RegistryAccess {
  /** base URL (Apicurio: .../apis/ccompat/v7), without a trailing slash */
  url: string;
  /** the Authorization header value, when the registry wants credentials */
  authorization?: (() => string) | undefined;
  /** TLS options of an https:// registry */
  tls?: RegistryTls | undefined;
}

/** A bare URL (tests, the local stack) or the full access: the same thing to the callers. */
export type RegistryEndpoint = string | RegistryAccess;

/** The TLS options pgcdc sets for an HTTPS client. */
export interface RegistryTls {
  ca?: string;
  cert?: string;
  key?: string;
  rejectUnauthorized?: boolean;
}

/**
 * The access with a clean URL: credentials written into the URL (user:password@host, which fetch
 * refuses) become its basic Authorization unless the access has one, and leave the URL.
 */
export function registryAccess(endpoint: RegistryEndpoint): RegistryAccess {
  const a = typeof endpoint === 'string' ? { url: endpoint } : endpoint;
  const url = a.url.replace(/\/+$/, '');
  const m = /^(https?:\/\/)([^/@\s]*)@(.*)$/i.exec(url);
  if (!m) return { ...a, url };
  const [user = '', password = ''] = m[2]!.split(':').map((p) => decodeURIComponent(p));
  const basic = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  return { ...a, url: `${m[1]}${m[3]}`, authorization: a.authorization ?? (() => basic) };
}

const dispatchers = new WeakMap<RegistryTls, Agent>();

/** fetch against the registry: `path` starts with "/"; credentials and TLS options applied. */
export async function registryFetch(
  endpoint: RegistryEndpoint,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string; signal?: AbortSignal } = {},
): Promise<Response> {
  const a = registryAccess(endpoint);
  const headers = { ...init.headers, ...(a.authorization ? { authorization: a.authorization() } : {}) };
  if (!a.tls) return fetch(`${a.url}${path}`, { ...init, headers });
  let dispatcher = dispatchers.get(a.tls);
  if (!dispatcher) {
    dispatcher = new Agent({ connect: a.tls });
    dispatchers.set(a.tls, dispatcher);
  }
  // undici's own fetch with its Agent (the global fetch may bundle another undici version)
  return await undiciFetch(`${a.url}${path}`, { ...init, headers, dispatcher });
}

/** The registry client's (@kafkajs/confluent-schema-registry) options for this access. */
export function registryClientOptions(endpoint: RegistryEndpoint): SchemaRegistryAPIClientArgs {
  const a = registryAccess(endpoint);
  const authorization = a.authorization;
  return {
    host: a.url,
    ...(a.tls && a.url.startsWith('https:') ? { agent: new https.Agent(a.tls) } : {}),
    ...(authorization
      ? {
          middlewares: [
            () => ({
              prepareRequest: async (next) =>
                (await next()).enhance({ headers: { authorization: authorization() } }),
            }),
          ],
        }
      : {}),
  };
}
