// Decodes a chunk of one partition into change events. A tombstone is a delete once compaction
// removed the delete event before it (schemas/tombstone.ts); a tombstone that repeats its delete
// is skipped. A truncate (schemas/truncate.ts) is recognised by its header before its key, which
// is not an Avro row key: it decodes to an event with op `t` and an empty key. Bytes that are not a change event (DecodeError) are set aside for the dead-letter
// topic; any other failure (the registry unavailable) rejects the whole chunk, to be retried.
import type { InMessage } from '../../pipeline/kafka/port.ts';
import { DecodeError, type EventCodec } from '../../schemas/codec.ts';
import { tombstoneDelete } from '../../schemas/tombstone.ts';
import { isTruncateMessage } from '../../schemas/truncate.ts';
import type { DecodedEvent } from '../sink.ts';

export interface DecodedChunk {
  events: DecodedEvent[];
  undecodable: { message: InMessage; error: string }[];
}

export async function decodeChunk(
  codec: EventCodec,
  messages: InMessage[],
  where: { schema: string; table: string },
): Promise<DecodedChunk> {
  const out: DecodedChunk = { events: [], undecodable: [] };
  for (const [i, m] of messages.entries()) {
    const tombstone = m.value === null ? tombstoneDelete(m, messages[i - 1], where) : undefined;
    if (m.value === null && !tombstone) continue;
    try {
      if (isTruncateMessage(m)) {
        out.events.push({
          offset: m.offset,
          partition: m.partition,
          key: {},
          event: await decodeTruncate(codec, m),
        });
        continue;
      }
      if (!m.key) throw new DecodeError('message without key');
      const [key, event] = await Promise.all([
        codec.decodeKey(m.key),
        tombstone ?? codec.decodeValue(m.value!),
      ]);
      out.events.push({ offset: m.offset, partition: m.partition, key, event });
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      out.undecodable.push({ message: m, error: err.message });
    }
  }
  return out;
}

/** The truncate event a message marked as a truncate carries (op `t`, or it is not one). */
async function decodeTruncate(codec: EventCodec, m: InMessage) {
  if (m.value === null) throw new DecodeError('truncate message without value');
  const event = await codec.decodeValue(m.value);
  if (event.op !== 't') throw new DecodeError(`message marked as a truncate carries op ${event.op}`);
  return event;
}
