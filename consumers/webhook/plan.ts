// How a webhook target cuts a chunk of events into requests, and what each request is called.
// Pure: the same events in the same order always give the same requests with the same
// webhook-ids, whatever this process delivered before. Together with the consumer cutting a
// redelivered chunk as the first time (consumers/group/chunks.ts), that keeps a batch's
// webhook-id the same on every redelivery (docs/webhook-ids.md).
//
// Order per key: a key's events stay in one lane, in order; a lane's requests are sent one after
// the other, lanes in parallel. A lane holds whole keys, at least `batchSize` events when there
// are enough (so a lane's last request may be shorter).
import { createHash } from 'node:crypto';
import type { ColumnSpec, Row } from '../../schemas/contract.ts';
import type { DeadLetter, DecodedEvent } from '../sink.ts';
import { invalidJsonb } from './payload.ts';

export interface DeliveryPlan {
  /** events dead-lettered before any request (a jsonb value that is not one JSON value) */
  invalid: DeadLetter[];
  /**
   * A delete that opens the chunk: it may be the tombstone of a delete delivered with the
   * previous chunk (the sink then skips it). It is a request of its own, the first of its key's
   * lane, so that skipping it or not never changes the other requests.
   */
  lead: DecodedEvent | undefined;
  /** lanes of requests (each request: events in offset order) */
  lanes: DecodedEvent[][][];
}

export const keyOf = (key: Row) =>
  JSON.stringify(key, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));

export function planDeliveries(
  events: readonly DecodedEvent[],
  batchSize: number,
  columns: ColumnSpec[],
): DeliveryPlan {
  const invalid: DeadLetter[] = [];
  const valid: DecodedEvent[] = [];
  for (const e of events) {
    const why = invalidJsonb(columns, e);
    if (why)
      invalid.push({ offset: e.offset, reason: 'invalid-value', error: `event ${e.event.event_id}: ${why}` });
    else valid.push(e);
  }
  const lead = valid[0] === events[0] && valid[0]?.event.op === 'd' ? valid[0] : undefined;
  const byKey = new Map<string, DecodedEvent[]>();
  for (const e of lead ? valid.slice(1) : valid) {
    const k = keyOf(e.key);
    const list = byKey.get(k);
    if (list) list.push(e);
    else byKey.set(k, [e]);
  }
  const keys = [...byKey.values()];
  const lanes: DecodedEvent[][][] = [];
  while (keys.length > 0) {
    const taken: DecodedEvent[] = [];
    while (taken.length < batchSize && keys.length > 0) taken.push(...keys.shift()!);
    const requests: DecodedEvent[][] = [];
    for (let i = 0; i < taken.length; i += batchSize) requests.push(taken.slice(i, i + batchSize));
    lanes.push(requests);
  }
  if (lead) {
    const k = keyOf(lead.key);
    const own = lanes.find((lane) => lane.some((r) => r.some((e) => keyOf(e.key) === k)));
    if (own) own.unshift([lead]);
    else lanes.unshift([[lead]]);
  }
  return { invalid, lead, lanes };
}

/**
 * The webhook-id of a request: the event id for one-event requests (batchSize 1), else derived
 * from its events' ids (each event in the array also carries its own id).
 */
export function requestId(events: readonly DecodedEvent[], batchSize: number): string {
  return batchSize === 1 ? events[0]!.event.event_id : batchId(events);
}

/** Id of a multi-event request: the same for the same events in the same order. */
export function batchId(events: readonly DecodedEvent[]): string {
  const h = createHash('sha256');
  for (const e of events) h.update(`${e.event.event_id},`);
  return `batch_${h.digest('base64url').slice(0, 32)}`;
}
