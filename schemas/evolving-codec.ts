// The consumer's codec in `source.schemaChanges: automatic` mode (docs/contracts.md, "Schema
// changes"): it decodes like the codec it wraps until an event arrives written with a schema that
// ADDS nullable columns to the contract known so far (schemas/evolution.ts `additionsOf`); from then
// on that writer schema is the reader, so events carry the new columns (older events read them as
// null, by Avro resolution), and `contract` says so: the target's sink (consumers/evolving-sink.ts)
// adds the columns before it applies the first such event. A writer schema that is no additive
// evolution (an older version, another shape) changes nothing: the current reader resolves it as
// before, or the event is undecodable as before. Writer schemas are looked at once per id; one
// look-up at a time.
import { fromWire } from './avro.ts';
import type { EventCodec } from './codec.ts';
import { classifyRegistryFailure } from './registry.ts';
import { UnavailableError } from '../pipeline/errors.ts';
import type { AvroRecordSchema, ColumnSpec, TableContract } from './contract.ts';
import { additionsOf, contractWithValueSchema } from './evolution.ts';

export interface EvolvingCodec extends EventCodec {
  /** the contract events are decoded with now: the configured one, or an evolution of it */
  readonly contract: TableContract;
}

export interface EvolvingCodecDeps {
  /** the registered writer schema of an id, as JSON */
  writerSchema: (id: number) => Promise<object>;
  /** a codec decoding with `contract` as the reader, its value schema registered as `valueSchemaId` */
  readerCodec: (contract: TableContract, valueSchemaId: number) => Promise<EventCodec>;
  /** told when the contract evolved (once per new version) */
  onEvolve?: (contract: TableContract, added: ColumnSpec[], valueSchemaId: number) => void;
}

export function createEvolvingCodec(
  base: EventCodec,
  contract: TableContract,
  deps: EvolvingCodecDeps,
): EvolvingCodec {
  let current = base;
  let reader = contract;
  const looked = new Set<number>([base.valueSchemaId, base.keySchemaId]);
  let queue: Promise<void> = Promise.resolve();

  const lookAt = async (id: number) => {
    if (looked.has(id)) return;
    let json: object;
    try {
      json = await deps.writerSchema(id);
    } catch (err) {
      // an unknown id is undecodable (the decoder says so: dead letter); the registry unavailable
      // is retried by the caller, and this id looked at again
      if (classifyRegistryFailure(err) !== 'unknown-id')
        throw new UnavailableError(`schema registry: fetching schema id ${id}: ${(err as Error).message}`, {
          hint: 'start the registry or fix registry.url',
          cause: err,
        });
      looked.add(id);
      return;
    }
    let writer: TableContract;
    try {
      writer = contractWithValueSchema(reader, json as AvroRecordSchema);
    } catch {
      looked.add(id); // not one of our value schemas (no row record, no pgType): decoding says what it is
      return;
    }
    const { added, incompatible } = additionsOf(reader, writer);
    if (!incompatible && added.length > 0) {
      current = await deps.readerCodec(writer, id);
      reader = writer;
      deps.onEvolve?.(writer, added, id);
    }
    looked.add(id);
  };

  const schemaIdOf = (buf: Buffer): number | undefined => {
    try {
      return fromWire(buf).schemaId;
    } catch {
      return undefined; // not framed: the decoder says so
    }
  };

  return {
    get keySchemaId() {
      return current.keySchemaId;
    },
    get valueSchemaId() {
      return current.valueSchemaId;
    },
    get contract() {
      return reader;
    },
    encodeKey: (key) => current.encodeKey(key),
    encodeValue: (event) => current.encodeValue(event),
    decodeKey: (buf) => current.decodeKey(buf),
    async decodeValue(buf) {
      const id = schemaIdOf(buf);
      if (id !== undefined && !looked.has(id)) {
        const look = queue.then(() => lookAt(id));
        queue = look.catch(() => undefined);
        await look;
      }
      return current.decodeValue(buf);
    },
  };
}
