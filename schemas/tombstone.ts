// Tombstones of the compacted change topic. Pure.
//
// The producer follows every delete event with a tombstone (same key, null value) whose headers
// carry the delete's event id and position. Compaction removes the delete event (the tombstone
// supersedes it) and, later, everything older of that key. A consumer reading from the start
// while the cleaner runs can therefore see an older row of a key, then only its tombstone: Kafka
// guarantees the tombstone (for delete.retention.ms), not the delete event. So a tombstone is a
// delete, guarded by the position in its headers like any other event. A tombstone right after
// its own delete event (the normal case) repeats it and is skipped. The headers also carry the
// delete's source commit time: a tombstone read apart from its delete event (another chunk, a
// restart between the two) is that delete, so it carries the delete's version, not the later time
// Kafka received it (a peers mesh decides conflicts by commit time, docs/peers.md).
import type { InMessage } from '../pipeline/kafka/port.ts';
import type { ChangeEvent } from './contract.ts';

export const EVENT_ID_HEADER = 'pgcdc-event-id';
export const COMMIT_LSN_HEADER = 'pgcdc-commit-lsn';
export const SEQ_HEADER = 'pgcdc-seq';
export const COMMIT_TS_HEADER = 'pgcdc-commit-ts-us';

/** Headers of the tombstone that follows a delete event. */
export function tombstoneHeaders(deleteEvent: ChangeEvent): Record<string, string> {
  return {
    [EVENT_ID_HEADER]: deleteEvent.event_id,
    [COMMIT_LSN_HEADER]: deleteEvent.source.commit_lsn.toString(),
    [SEQ_HEADER]: deleteEvent.source.seq.toString(),
    [COMMIT_TS_HEADER]: deleteEvent.source.ts_us.toString(),
  };
}

/**
 * The delete a tombstone stands for; undefined when it repeats the delete event just before it
 * (`previous`: the message before it in the same partition, if known), or when it carries no
 * position (not written by pgcdc).
 */
export function tombstoneDelete(
  m: InMessage,
  previous: InMessage | undefined,
  where: { schema: string; table: string },
): ChangeEvent | undefined {
  const eventId = m.headers[EVENT_ID_HEADER];
  const lsn = m.headers[COMMIT_LSN_HEADER];
  const seq = m.headers[SEQ_HEADER];
  if (eventId === undefined || lsn === undefined || seq === undefined) return undefined;
  if (!/^\d+$/.test(lsn) || !/^\d+$/.test(seq)) return undefined;
  if (
    previous &&
    previous.partition === m.partition &&
    previous.offset === m.offset - 1n &&
    previous.value !== null &&
    previous.headers[EVENT_ID_HEADER] === eventId
  ) {
    return undefined;
  }
  const tsMs = BigInt(Math.max(0, Math.trunc(m.timestampMs)));
  // tombstones written before the commit time was a header: the time Kafka received them (later)
  const committed = m.headers[COMMIT_TS_HEADER];
  const tsUs = committed !== undefined && /^\d+$/.test(committed) ? BigInt(committed) : tsMs * 1000n;
  return {
    before: null,
    after: null,
    unchanged: [],
    source: {
      version: '',
      connector: 'pgcdc',
      name: '',
      db: '',
      schema: where.schema,
      table: where.table,
      lsn: BigInt(lsn),
      commit_lsn: BigInt(lsn),
      seq: BigInt(seq),
      tx_id: null,
      ts_us: tsUs,
      snapshot: false,
    },
    op: 'd',
    ts_ms: tsMs,
    event_id: eventId,
  };
}
