// Decodes change events read back from the topic by operators' tools (replay dry run, status):
// by the schema id in each message, fetched from the registry; nothing is registered.
import type avro from 'avsc';
import { fromWire } from '../schemas/avro.ts';
import type { ChangeEvent } from '../schemas/contract.ts';
import { fetchSchemaById } from '../schemas/registry.ts';
import type { RegistryEndpoint } from '../schemas/registry-access.ts';

export type EventDecoder = (value: Buffer) => Promise<ChangeEvent>;

export function createEventDecoder(registry: RegistryEndpoint): EventDecoder {
  const types = new Map<number, Promise<avro.Type>>();
  return async (value) => {
    const { schemaId, payload } = fromWire(value);
    let t = types.get(schemaId);
    if (!t) {
      t = fetchSchemaById(registry, schemaId);
      types.set(schemaId, t);
      t.catch(() => types.delete(schemaId)); // registry trouble passes: ask again next time
    }
    return (await t).fromBuffer(payload) as ChangeEvent;
  };
}
