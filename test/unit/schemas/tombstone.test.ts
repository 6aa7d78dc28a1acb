// consumers/tombstone.ts: a tombstone whose delete event was compacted away is a delete (guarded by
// the position in its headers); one right after its own delete event repeats it and is skipped.
import { describe, expect, it } from 'vitest';
import { tombstoneDelete, tombstoneHeaders } from '../../../schemas/tombstone.ts';
import type { InMessage } from '../../../pipeline/kafka/port.ts';
import { changeEvent } from '../support/events.ts';

const del = changeEvent({
  source: { lsn: 0x16b374d848n, commit_lsn: 0x16b374d900n, seq: 4n, tx_id: 77n, ts_us: 1n },
  op: 'd',
  ts_ms: 2n,
  event_id: '16/B374D900:4',
});

const msg = (offset: bigint, value: Buffer | null, headers: Record<string, string>): InMessage => ({
  partition: 1,
  offset,
  key: Buffer.from('k'),
  value,
  timestampMs: 1_700_000_000_123,
  headers,
});
const where = { schema: 'public', table: 'users' };

describe('tombstones', () => {
  const headers = tombstoneHeaders(del);

  it('carry the delete event id and position', () => {
    expect(headers).toEqual({
      'pgcdc-event-id': '16/B374D900:4',
      'pgcdc-commit-lsn': String(0x16b374d900n),
      'pgcdc-seq': '4',
      'pgcdc-commit-ts-us': '1',
    });
  });

  it('right after their own delete event they are skipped', () => {
    const d = msg(10n, Buffer.from('d'), { 'pgcdc-event-id': del.event_id });
    expect(tombstoneDelete(msg(11n, null, headers), d, where)).toBeUndefined();
  });

  it('alone (the delete event was compacted away, or is in an earlier batch) they are the delete', () => {
    const other = msg(10n, Buffer.from('u'), { 'pgcdc-event-id': '16/B0000000:0' });
    for (const previous of [
      undefined,
      other,
      msg(9n, Buffer.from('d'), { 'pgcdc-event-id': del.event_id }),
    ]) {
      const e = tombstoneDelete(msg(11n, null, headers), previous, where);
      expect(e).toMatchObject({
        op: 'd',
        before: null,
        after: null,
        event_id: del.event_id,
        source: {
          commit_lsn: del.source.commit_lsn,
          seq: 4n,
          // the delete's commit time, not the time Kafka received the tombstone (later)
          ts_us: 1n,
          schema: 'public',
          table: 'users',
          snapshot: false,
        },
        ts_ms: 1_700_000_000_123n,
      });
    }
  });

  it('written before the commit time was a header: the time Kafka received them', () => {
    const old = { ...headers };
    delete old['pgcdc-commit-ts-us'];
    const e = tombstoneDelete(msg(11n, null, old), undefined, where);
    expect(e?.source.ts_us).toBe(1_700_000_000_123_000n);
  });

  it('without a position (not written by pgcdc) they are ignored', () => {
    expect(tombstoneDelete(msg(11n, null, {}), undefined, where)).toBeUndefined();
    expect(
      tombstoneDelete(msg(11n, null, { ...headers, 'pgcdc-seq': 'x' }), undefined, where),
    ).toBeUndefined();
  });
});
