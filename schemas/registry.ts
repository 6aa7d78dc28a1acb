// The schema registry over HTTP, as the codec needs it: a writer schema by id, and THE one
// classification of what went wrong talking to the registry, used when decoding and when
// registering at start:
//   - 'unknown-id': the registry's definite "no schema with this id" (HTTP 404 with its error code
//     40403): an event framed with that id can never be decoded (dead letter);
//   - 'refused': the registry refused a schema (409 incompatible, 422 invalid) or the client judged
//     the subject's configuration (compatibility mismatch): a registration fails for good;
//   - 'unavailable': anything else (5xx, 401/403, 429, a timeout, a refused connection, a proxy's
//     HTML page, a 404 without the registry's code): trouble that passes, retried with backoff,
//     shown in status and readiness, never a dead letter.
import type avro from 'avsc';
import { avroType } from './avro.ts';
import { registryAccess, registryFetch, type RegistryEndpoint } from './registry-access.ts';

export type RegistryFailure = 'unknown-id' | 'refused' | 'unavailable';

/** How long one request to the registry may take. */
export const REGISTRY_TIMEOUT_MS = 10_000;

/** The registry's error code for "schema not found" (Confluent API, also Apicurio's ccompat). */
const SCHEMA_NOT_FOUND = 40403;

/** An HTTP answer from the registry (or whatever stands in front of it) that is not what we asked for. */
export class RegistryHttpError extends Error {
  constructor(
    message: string,
    readonly status: number,
    /** the registry's `error_code`, when the body was the registry's JSON error */
    readonly errorCode: number | undefined,
  ) {
    super(message);
    this.name = 'RegistryHttpError';
  }
}

/** Builds the error for an unexpected answer; reads the body (never copies a page into the message). */
export async function registryHttpError(res: Response, request: string): Promise<RegistryHttpError> {
  const type = res.headers.get('content-type') ?? '';
  const text = await res.text().catch(() => '');
  let body: { error_code?: unknown; message?: unknown } | undefined;
  try {
    body = /json/i.test(type) || text.startsWith('{') ? (JSON.parse(text) as typeof body) : undefined;
  } catch {
    body = undefined;
  }
  const code = typeof body?.error_code === 'number' ? body.error_code : undefined;
  const said =
    body && typeof body.message === 'string'
      ? ` (${code === undefined ? '' : `error code ${code}: `}${body.message.slice(0, 300)})`
      : text && !body
        ? ` (a ${type.split(';')[0]?.trim() || 'non-JSON'} page, not the registry: a proxy?)`
        : '';
  return new RegistryHttpError(`registry answered HTTP ${res.status}${said} to ${request}`, res.status, code);
}

export function classifyRegistryFailure(err: unknown): RegistryFailure {
  if (err instanceof UnusableSchemaError) return 'unknown-id';
  if (err instanceof RegistryHttpError) {
    if (err.status === 404 && err.errorCode === SCHEMA_NOT_FOUND) return 'unknown-id';
    if (err.status === 409 || err.status === 422) return 'refused';
    return 'unavailable';
  }
  if (err instanceof Error) {
    // the registry client's (mappersmith) HTTP errors: it reports a refused connection as 400
    const status = (err as { status?: unknown }).status;
    if (err.name === 'ResponseError' && typeof status === 'number')
      return status === 409 || status === 422 ? 'refused' : 'unavailable';
    // the registry client's own verdicts (invalid schema, compatibility configuration mismatch)
    if (err.name.startsWith('ConfluentSchemaRegistry')) return 'refused';
  }
  return 'unavailable';
}

async function registryGet(
  registry: RegistryEndpoint,
  path: string,
  request: string,
  timeoutMs: number,
): Promise<unknown> {
  const res = await registryFetch(registry, path, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw await registryHttpError(res, request);
  const type = res.headers.get('content-type') ?? '';
  if (!/json/i.test(type)) throw await registryHttpError(res, request);
  try {
    return await res.json();
  } catch {
    throw new RegistryHttpError(
      `registry answered HTTP ${res.status} with broken JSON to ${request}`,
      res.status,
      undefined,
    );
  }
}

/** The writer schema of `id`, parsed with the contract's options (bigint longs). */
export async function fetchSchemaById(
  registry: RegistryEndpoint,
  id: number,
  timeoutMs = REGISTRY_TIMEOUT_MS,
): Promise<avro.Type> {
  const schema = await fetchSchemaJsonById(registry, id, timeoutMs);
  try {
    return avroType(schema);
  } catch (err) {
    throw new UnusableSchemaError(`schema id ${id} is not a valid Avro schema: ${(err as Error).message}`);
  }
}

/** The registered schema of `id` as JSON (its custom properties, e.g. `pgType`, kept). */
export async function fetchSchemaJsonById(
  registry: RegistryEndpoint,
  id: number,
  timeoutMs = REGISTRY_TIMEOUT_MS,
): Promise<object> {
  const body = (await registryGet(
    registryAccess(registry),
    `/schemas/ids/${id}`,
    `GET /schemas/ids/${id}`,
    timeoutMs,
  )) as { schema?: unknown; schemaType?: unknown };
  if (body.schemaType && body.schemaType !== 'AVRO')
    throw new UnusableSchemaError(`schema id ${id} is ${JSON.stringify(body.schemaType)}, not AVRO`);
  if (typeof body.schema !== 'string')
    throw new RegistryHttpError(`registry answered without a schema for id ${id}`, 200, undefined);
  try {
    return JSON.parse(body.schema) as object;
  } catch (err) {
    throw new UnusableSchemaError(`schema id ${id} is not valid JSON: ${(err as Error).message}`);
  }
}

/** The id exists but holds no usable Avro schema: as undecodable as an unknown id. */
export class UnusableSchemaError extends Error {}
