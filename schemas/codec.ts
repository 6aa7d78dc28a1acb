// Encodes change events to Confluent-framed Avro and back. Schemas come from schemas/avro/*.avsc and
// are registered under the topic-name strategy (<topic>-key, <topic>-value) with BACKWARD
// compatibility; messages written with any registered writer schema are decoded by id.
import { SchemaRegistry, SchemaType, COMPATIBILITY } from '@kafkajs/confluent-schema-registry';
import type avro from 'avsc';
import { avroType, fromWire, toWire } from './avro.ts';
import type { ChangeEvent, Row, TableContract } from './contract.ts';
import { PgcdcError, UnavailableError } from '../pipeline/errors.ts';

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

export function createRegistryClient(url: string): SchemaRegistry {
  return new SchemaRegistry({
    host: url.replace(/\/+$/, ''),
    clientId: 'pgcdc',
    retry: { retries: 2, initialRetryTimeInSecs: 0.2 },
  });
}

/** Writer schema by id, parsed with our options (bigint longs). */
export async function fetchSchemaById(registryUrl: string, id: number): Promise<avro.Type> {
  const res = await fetch(`${registryUrl.replace(/\/+$/, '')}/schemas/ids/${id}`, {
    signal: AbortSignal.timeout(10_000),
  });
  if (!res.ok) throw new Error(`registry answered ${res.status} for schema id ${id}`);
  const body = (await res.json()) as { schema: string; schemaType?: string };
  if (body.schemaType && body.schemaType !== 'AVRO')
    throw new Error(`schema id ${id} is ${body.schemaType}, not AVRO`);
  return avroType(JSON.parse(body.schema) as object);
}

export async function createEventCodec(opts: {
  registryUrl: string;
  topic: string;
  contract: TableContract;
}): Promise<EventCodec> {
  const registry = createRegistryClient(opts.registryUrl);
  const base = opts.registryUrl.replace(/\/+$/, '');
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
    const res = await fetch(`${base}/config/${encodeURIComponent(subject)}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
      body: JSON.stringify({ compatibility: 'BACKWARD' }),
      signal: AbortSignal.timeout(10_000),
    });
    if (!res.ok && res.status !== 409)
      throw new Error(`setting compatibility of ${subject}: HTTP ${res.status}`);
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
      if (/ECONNREFUSED|ENOTFOUND|fetch failed|socket hang up|ETIMEDOUT/i.test(msg)) {
        throw new UnavailableError(`schema registry ${opts.registryUrl} unreachable: ${msg}`, {
          hint: 'start the registry or fix registry.url',
          cause: err,
        });
      }
      throw new PgcdcError(`registering schema ${subject} failed: ${msg}`, {
        cause: err,
        hint: 'an incompatible schema change needs a new topic or a compatible (BACKWARD) evolution',
      });
    }
  };
  const keySchemaId = await register(`${opts.topic}-key`, opts.contract.keySchema);
  const valueSchemaId = await register(`${opts.topic}-value`, opts.contract.valueSchema);
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

  const decodeWire = async (buf: Buffer): Promise<unknown> => {
    let parsed;
    try {
      parsed = fromWire(buf);
    } catch (err) {
      throw new DecodeError((err as Error).message, { cause: err });
    }
    let type: avro.Type;
    try {
      type = await typeFor(parsed.schemaId);
    } catch (err) {
      const msg = (err as Error).message;
      if (/ECONNREFUSED|fetch failed|socket hang up|ETIMEDOUT/i.test(msg)) {
        throw new UnavailableError(`schema registry unreachable while decoding: ${msg}`, { cause: err });
      }
      throw new DecodeError(`unknown schema id ${parsed.schemaId}: ${msg}`, { cause: err });
    }
    try {
      return type.fromBuffer(parsed.payload);
    } catch (err) {
      throw new DecodeError(
        `Avro decoding with schema id ${parsed.schemaId} failed: ${(err as Error).message}`,
        { cause: err },
      );
    }
  };

  return {
    keySchemaId,
    valueSchemaId,
    encodeKey: (key) => toWire(keySchemaId, keyType.toBuffer(key)),
    encodeValue: (event) => toWire(valueSchemaId, valueType.toBuffer(event)),
    decodeValue: (buf) => decodeWire(buf) as Promise<ChangeEvent>,
    decodeKey: (buf) => decodeWire(buf) as Promise<Row>,
  };
}
