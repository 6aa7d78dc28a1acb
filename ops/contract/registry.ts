// The latest schema registered for a subject (`<topic>-value`), for `pgcdc contract diff`: the
// parsed schema and its version, or undefined when the subject has none yet. Read-only; through
// registryFetch, so registry.auth and registry.tls apply.
import { registryFetch, type RegistryEndpoint } from '../../schemas/registry-access.ts';
import { REGISTRY_TIMEOUT_MS, registryHttpError } from '../../schemas/registry.ts';

export interface RegisteredSchema {
  version: number;
  id: number;
  schema: object;
}

export async function latestSchema(
  registry: RegistryEndpoint,
  subject: string,
  timeoutMs = REGISTRY_TIMEOUT_MS,
): Promise<RegisteredSchema | undefined> {
  const request = `GET /subjects/${subject}/versions/latest`;
  const res = await registryFetch(registry, `/subjects/${encodeURIComponent(subject)}/versions/latest`, {
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (res.status === 404) return undefined;
  if (!res.ok) throw await registryHttpError(res, request);
  const body = (await res.json()) as { version?: number; id?: number; schema?: string };
  if (typeof body.schema !== 'string') return undefined;
  return { version: body.version ?? 0, id: body.id ?? 0, schema: JSON.parse(body.schema) as object };
}
