// Encodes change events to Confluent-framed Avro and back. Schemas come from schemas/avro/*.avsc and
// are registered under the topic-name strategy (<topic>-key, <topic>-value) with BACKWARD
// compatibility; messages written with any registered writer schema are decoded by id.
import { SchemaRegistry, SchemaType, COMPATIBILITY } from '@kafkajs/confluent-schema-registry';
import type avro from 'avsc';
import { avroType, framedEncoder, fromWire } from './avro.ts';
import type { ChangeEvent, Row, TableContract } from './contract.ts';
import { PgcdcError, UnavailableError } from '../pipeline/errors.ts';
import {
  classifyRegistryFailure,
  fetchSchemaById,
  registryHttpError,
  REGISTRY_TIMEOUT_MS,
} from './registry.ts';
import {
  registryAccess,
  registryClientOptions,
  registryFetch,
  type RegistryEndpoint,
} from './registry-access.ts';

export { fetchSchemaById } from './registry.ts';

export interface EventCodec {
  readonly keySchemaId: number;
  readonly valueSchemaId: number;
  encodeKey(key: Row): Buffer;
  encodeValue(event: ChangeEvent): Buffer;
  /** Rejects with DecodeError for bytes that are not a decodable event. */
  decodeValue(buf: Buffer): Promise<ChangeEvent>;
  decodeKey(buf: Buffer): Promise<Row>;
}

export class DecodeError extends PgcdcError {}

/** Decodes an Avro body written with `writer` (schema `writerId`) as the reader schema. */
export type ReaderDecoder = (writerId: number, writer: avro.Type, payload: Buffer) => unknown;

/**
 * Writer -> reader schema resolution: the reader is the contract's current schema, so an event
 * written before a BACKWARD-compatible change (a field added with a default) carries the default,
 * and a field the contract dropped is left out. A writer that does not resolve to the reader
 * (another record, the key schema framing a value) is not one of our events: DecodeError.
 * Resolvers are built once per writer id.
 */
export function createReaderDecoder(reader: avro.Type, what: string): ReaderDecoder {
  const resolvers = new Map<number, avro.Resolver | undefined>();
  return (writerId, writer, payload) => {
    let resolver = resolvers.get(writerId);
    if (!resolvers.has(writerId)) {
      try {
        resolver = writer === reader ? undefined : reader.createResolver(writer);
      } catch (err) {
        throw new DecodeError(`schema id ${writerId} is not the ${what}: ${(err as Error).message}`, {
          cause: err,
        });
      }
      resolvers.set(writerId, resolver);
    }
    try {
      return reader.fromBuffer(payload, resolver) as unknown;
    } catch (err) {
      throw new DecodeError(`Avro decoding with schema id ${writerId} failed: ${(err as Error).message}`, {
        cause: err,
      });
    }
  };
}

export function createRegistryClient(registry: RegistryEndpoint): SchemaRegistry {
  return new SchemaRegistry({
    ...registryClientOptions(registry),
    clientId: 'pgcdc',
    retry: { retries: 2, initialRetryTimeInSecs: 0.2 },
  });
}

/** Registry trouble that passes (never a verdict on an event or a schema): retried with backoff. */
function registryUnavailable(url: string, msg: string, cause: unknown): UnavailableError {
  const status = (cause as { status?: unknown }).status;
  const answered = typeof status === 'number' && status !== 400; // mappersmith's 400: no answer
  return new UnavailableError(`schema registry ${url} ${answered ? 'unavailable' : 'unreachable'}: ${msg}`, {
    hint:
      status === 401 || status === 403
        ? "the registry refused access: fix registry.auth (user and password, or token) or the registry's access rules"
        : 'start the registry or fix registry.url',
    cause,
  });
}

export async function createEventCodec(opts: {
  /** the registry's URL, or its full access (credentials, TLS) as the composition root builds it */
  registryUrl: RegistryEndpoint;
  topic: string;
  contract: TableContract;
  /** the ids the contract's schemas are registered under: not registered again (an evolved reader) */
  registered?: { keySchemaId: number; valueSchemaId: number };
}): Promise<EventCodec> {
  const registry = createRegistryClient(opts.registryUrl);
  const base = registryAccess(opts.registryUrl).url;
  const registerOnce = async (subject: string, schema: object) => {
    const { id } = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(schema) },
      { subject, compatibility: COMPATIBILITY.BACKWARD },
    );
    return id;
  };
  // Registration races between processes (producer and consumers start together): the registry may
  // report the subject's compatibility as its global default (NONE) before the first registrant set
  // it, or refuse a second "first" config with 409. Both settle once BACKWARD is set: set it (a 409
  // means someone else did) and register again.
  const racing = (err: unknown) =>
    err instanceof Error && /BACKWARD != NONE|rule named 'COMPATIBILITY' already exists/.test(err.message);
  const ensureBackward = async (subject: string) => {
    const res = await registryFetch(opts.registryUrl, `/config/${encodeURIComponent(subject)}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
      body: JSON.stringify({ compatibility: 'BACKWARD' }),
      signal: AbortSignal.timeout(REGISTRY_TIMEOUT_MS),
    });
    if (!res.ok && res.status !== 409)
      throw await registryHttpError(res, `PUT /config/${subject} (setting its compatibility)`);
  };
  const register = async (subject: string, schema: object) => {
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          return await registerOnce(subject, schema);
        } catch (err) {
          if (!racing(err) || attempt >= 4) throw err;
          await ensureBackward(subject);
        }
      }
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      if (classifyRegistryFailure(err) === 'refused') {
        throw new PgcdcError(`registering schema ${subject} failed: ${msg}`, {
          cause: err,
          hint: 'an incompatible schema change needs a new topic or a compatible (BACKWARD) evolution',
        });
      }
      throw registryUnavailable(base, msg, err);
    }
  };
  const keySchemaId =
    opts.registered?.keySchemaId ?? (await register(`${opts.topic}-key`, opts.contract.keySchema));
  const valueSchemaId =
    opts.registered?.valueSchemaId ?? (await register(`${opts.topic}-value`, opts.contract.valueSchema));
  const keyType = avroType(opts.contract.keySchema);
  const valueType = avroType(opts.contract.valueSchema);
  const writerTypes = new Map<number, Promise<avro.Type>>([
    [valueSchemaId, Promise.resolve(valueType)],
    [keySchemaId, Promise.resolve(keyType)],
  ]);

  const typeFor = (id: number): Promise<avro.Type> => {
    let t = writerTypes.get(id);
    if (!t) {
      t = fetchSchemaById(opts.registryUrl, id);
      writerTypes.set(id, t);
      t.catch(() => writerTypes.delete(id));
    }
    return t;
  };

  const decodeKeyWith = createReaderDecoder(keyType, `key schema of ${opts.topic}`);
  const decodeValueWith = createReaderDecoder(valueType, `value schema of ${opts.topic}`);

  const decodeWire = async (buf: Buffer, decodeWith: ReaderDecoder): Promise<unknown> => {
    let parsed;
    try {
      parsed = fromWire(buf);
    } catch (err) {
      throw new DecodeError((err as Error).message, { cause: err });
    }
    let writer: avro.Type;
    try {
      writer = await typeFor(parsed.schemaId);
    } catch (err) {
      const msg = (err as Error).message;
      if (classifyRegistryFailure(err) === 'unknown-id')
        throw new DecodeError(`unknown schema id ${parsed.schemaId}: ${msg}`, { cause: err });
      throw registryUnavailable(base, `fetching schema id ${parsed.schemaId}: ${msg}`, err);
    }
    return decodeWith(parsed.schemaId, writer, parsed.payload);
  };

  const encodeKey = framedEncoder(keySchemaId, keyType);
  const encodeValue = framedEncoder(valueSchemaId, valueType);
  return {
    keySchemaId,
    valueSchemaId,
    encodeKey: (key) => encodeKey(key),
    encodeValue: (event) => encodeValue(event),
    decodeValue: (buf) => decodeWire(buf, decodeValueWith) as Promise<ChangeEvent>,
    decodeKey: (buf) => decodeWire(buf, decodeKeyWith) as Promise<Row>,
  };
}
