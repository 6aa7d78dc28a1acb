// The producer's publisher (AckingPublisher) for unit tests: a codec that encodes the key's id and
// the event id as text, and a publisher of public.users whose acknowledgements are collected.
import type { Lsn } from '../../../schemas/lsn.ts';
import { AckingPublisher } from '../../../producers/publisher.ts';
import type { KafkaProducerPort } from '../../../pipeline/kafka/port.ts';
import type { EventCodec } from '../../../schemas/codec.ts';
import type { ChangeEvent, Row } from '../../../schemas/contract.ts';

export const eventIdCodec: EventCodec = {
  keySchemaId: 1,
  valueSchemaId: 2,
  encodeKey: (key: Row) => Buffer.from(String(key.id)),
  encodeValue: (event: ChangeEvent) => Buffer.from(event.event_id),
  decodeValue: () => Promise.reject(new Error('not used')),
  decodeKey: () => Promise.reject(new Error('not used')),
};

/**
 * An AckingPublisher sending to `producer` (topic `t`, batches of 100, no linger unless given);
 * the positions it acknowledges are pushed onto `acks` (a new array unless given).
 */
export function ackingPublisher(
  producer: KafkaProducerPort,
  opts: {
    codec?: EventCodec;
    topic?: string;
    batchMaxMessages?: number | undefined;
    lingerMs?: number | undefined;
    acks?: Lsn[];
  } = {},
) {
  const acks = opts.acks ?? [];
  const publisher = new AckingPublisher({
    producer,
    codec: opts.codec ?? eventIdCodec,
    topic: opts.topic ?? 't',
    table: 'public.users',
    batchMaxMessages: opts.batchMaxMessages ?? 100,
    lingerMs: opts.lingerMs ?? 0,
    ackAfterPublish: (lsn) => acks.push(lsn),
  });
  return { publisher, acks };
}
