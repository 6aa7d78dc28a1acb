// The latest schema registered for a subject (`<topic>-value`), for `pgcdc contract diff`: the
// parsed schema and its version, or undefined when the subject has none yet. Read-only.
import { REGISTRY_TIMEOUT_MS, registryHttpError } from '../../schemas/registry.ts';

export interface RegisteredSchema {
  version: number;
  id: number;
  schema: object;
}

export async function latestSchema(
  registryUrl: string,
  subject: string,
  timeoutMs = REGISTRY_TIMEOUT_MS,
): Promise<RegisteredSchema | undefined> {
  const request = `GET /subjects/${subject}/versions/latest`;
  const res = await fetch(
    `${registryUrl.replace(/\/+$/, '')}/subjects/${encodeURIComponent(subject)}/versions/latest`,
    { signal: AbortSignal.timeout(timeoutMs) },
  );
  if (res.status === 404) return undefined;
  if (!res.ok) throw await registryHttpError(res, request);
  const body = (await res.json()) as { version?: number; id?: number; schema?: string };
  if (typeof body.schema !== 'string') return undefined;
  return { version: body.version ?? 0, id: body.id ?? 0, schema: JSON.parse(body.schema) as object };
}
