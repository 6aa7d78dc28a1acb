// TRUNCATE messages of the compacted change topic. Pure.
//
// A TRUNCATE of the captured table is published once, as an event with op `t` (before and after
// null, the usual source position). Its Kafka key is NOT an Avro row key: it is the raw bytes
// `pgcdc-truncate:<schema>.<table>`, which can never equal a row's key (those are Avro-framed,
// starting with the 0x00 magic byte), so compaction of a later row never removes the truncate.
// Compaction keeps the latest truncate of the table, which is all a new target replaying the topic
// needs: targets apply it by position (everything older goes, nothing older comes back). A header
// marks the message as a truncate, so consumers recognise it before decoding the key.
import type { InMessage } from '../pipeline/kafka/port.ts';

export const TRUNCATE_HEADER = 'pgcdc-truncate';

/** The Kafka key of a table's truncate events (raw bytes, not Avro). */
export function truncateKey(where: { schema: string; table: string }): Buffer {
  return Buffer.from(`pgcdc-truncate:${where.schema}.${where.table}`, 'utf8');
}

/** Headers of a truncate message, beside its event id. */
export function truncateHeaders(): Record<string, string> {
  return { [TRUNCATE_HEADER]: '1' };
}

/** Is this message a table's truncate (by its header)? */
export function isTruncateMessage(m: Pick<InMessage, 'headers'>): boolean {
  return m.headers[TRUNCATE_HEADER] === '1';
}
