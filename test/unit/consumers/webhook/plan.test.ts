// consumers/webhook/plan.ts: the requests of a chunk are a pure function of its events (the same
// events give the same requests and webhook-ids, whatever the sink delivered before), lanes hold
// whole keys in order, a delete opening the chunk travels alone, invalid jsonb is set aside.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DecodedEvent } from '../../../../consumers/sink.ts';
import { batchId, planDeliveries, requestId } from '../../../../consumers/webhook/plan.ts';
import type { ChangeEvent } from '../../../../schemas/contract.ts';
import { loadContract } from '../../../../schemas/contract.ts';
import { changeEvent } from '../../support/events.ts';

const { columns } = loadContract();

function ev(offset: number, user: number, op: ChangeEvent['op'] = 'u'): DecodedEvent {
  return {
    offset: BigInt(offset),
    key: { id: BigInt(user) },
    event: changeEvent({ op, event_id: `e${offset}` }),
  };
}

const idsOf = (requests: DecodedEvent[][]) => requests.map((r) => r.map((e) => e.event.event_id));

describe('planDeliveries', () => {
  it('lanes of whole keys, at least batchSize events each, requests of batchSize in key order', () => {
    const events = [ev(0, 1), ev(1, 2), ev(2, 1), ev(3, 3), ev(4, 2), ev(5, 4), ev(6, 5)];
    const plan = planDeliveries(events, 3, columns);
    expect(plan.lead).toBeUndefined();
    expect(plan.lanes.map(idsOf)).toEqual([
      [['e0', 'e2', 'e1'], ['e4']], // users 1 and 2 (4 events), one lane: user 2 stays in order
      [['e3', 'e5', 'e6']], // users 3, 4, 5
    ]);
  });

  it("a delete opening the chunk is a request of its own, first in its key's lane; a later delete is not", () => {
    const events = [ev(0, 1, 'd'), ev(1, 2, 'c'), ev(2, 1, 'c'), ev(3, 3, 'd'), ev(4, 4, 'u')];
    const plan = planDeliveries(events, 2, columns);
    expect(plan.lead).toBe(events[0]);
    expect(plan.lanes.map(idsOf)).toEqual([[['e0'], ['e1', 'e2']], [['e3', 'e4']]]);
    // alone in the chunk's keys: a lane of its own
    const alone = planDeliveries([ev(0, 9, 'd'), ev(1, 2)], 2, columns);
    expect(alone.lanes.map(idsOf)).toEqual([[['e0']], [['e1']]]);
  });

  it('an event whose jsonb is not one JSON value is dead-lettered before any request', () => {
    const broken = ev(0, 1, 'd');
    broken.event = { ...broken.event, op: 'c', after: { id: 1n, preferences: '{} {}' } };
    const plan = planDeliveries([broken, ev(1, 2, 'd')], 2, columns);
    expect(plan.invalid).toMatchObject([{ offset: 0n, reason: 'invalid-value' }]);
    // the delete behind it does not open the chunk: it goes with the lanes
    expect(plan.lead).toBeUndefined();
    expect(plan.lanes.map(idsOf)).toEqual([[['e1']]]);
  });

  it('is a pure function of the events: the same chunk gives the same requests and ids', () => {
    const op = fc.constantFrom<ChangeEvent['op']>('c', 'u', 'd', 'r');
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 1, max: 6 }), op), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 7 }),
        (spec, batchSize) => {
          const chunk = () => spec.map(([user, o], i) => ev(i, user, o));
          const a = planDeliveries(chunk(), batchSize, columns);
          const b = planDeliveries(chunk(), batchSize, columns);
          const ids = (p: typeof a) => p.lanes.flat().map((r) => requestId(r, batchSize));
          expect(ids(a)).toEqual(ids(b));
          expect(a.lanes.map(idsOf)).toEqual(b.lanes.map(idsOf));
          // every event once, each key's events in one lane in offset order
          const flat = a.lanes.flat(2);
          expect(flat.map((e) => e.offset).sort((x, y) => Number(x - y))).toEqual(
            chunk().map((e) => e.offset),
          );
          for (const lane of a.lanes) {
            const events = lane.flat();
            for (const r of lane) expect(r.length).toBeLessThanOrEqual(batchSize);
            const keys = new Set(events.map((e) => String(e.key.id)));
            for (const other of a.lanes.filter((l) => l !== lane))
              expect(other.flat().some((e) => keys.has(String(e.key.id)))).toBe(false);
            for (const k of keys) {
              const offsets = events.filter((e) => String(e.key.id) === k).map((e) => e.offset);
              expect(offsets).toEqual([...offsets].sort((x, y) => Number(x - y)));
            }
          }
        },
      ),
    );
  });

  it('ids: the event id for batchSize 1, a hash of the ordered event ids otherwise', () => {
    const [a, b] = [ev(0, 1), ev(1, 2)];
    expect(requestId([a], 1)).toBe('e0');
    expect(requestId([a, b], 2)).toBe(batchId([a, b]));
    expect(batchId([a, b])).toMatch(/^batch_[\w-]{32}$/);
    expect(batchId([a, b])).not.toBe(batchId([b, a]));
  });
});
