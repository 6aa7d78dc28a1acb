// consumers/group/chunks.ts: a batch is cut every `size` messages, except that a batch starting
// inside a recorded span gets that span back as its first chunk (the chunk handled before a crash
// is cut as the first time, however many messages arrived behind it).
import { describe, expect, it } from 'vitest';
import { chunkBounds } from '../../../../consumers/group/chunks.ts';
import type { InMessage } from '../../../../pipeline/kafka/port.ts';

const at = (...offsets: number[]): InMessage[] =>
  offsets.map((o) => ({
    partition: 0,
    offset: BigInt(o),
    key: null,
    value: null,
    timestampMs: 0,
    headers: {},
  }));

const span = (first: number, last: number) => ({ first: BigInt(first), last: BigInt(last) });

describe('chunkBounds', () => {
  it('cuts every size messages', () => {
    expect(chunkBounds({ messages: at(10, 11, 12, 13, 14) }, 2)).toEqual([
      [0, 2],
      [2, 4],
      [4, 5],
    ]);
    expect(chunkBounds({ messages: [] }, 2)).toEqual([]);
  });

  it('gives a batch starting in a recorded span that span as its first chunk, larger or smaller than size', () => {
    const messages = at(10, 11, 12, 13, 14, 15, 16);
    expect(chunkBounds({ messages, recordedSpan: span(10, 11) }, 3)).toEqual([
      [0, 2],
      [2, 5],
      [5, 7],
    ]);
    expect(chunkBounds({ messages, recordedSpan: span(10, 14) }, 2)).toEqual([
      [0, 5],
      [5, 7],
    ]);
  });

  it('a compacted topic: the span holds what is left of it', () => {
    expect(chunkBounds({ messages: at(12, 15, 16), recordedSpan: span(10, 15) }, 5)).toEqual([
      [0, 2],
      [2, 3],
    ]);
    // a fetch that ends inside the span: all of it is the chunk
    expect(chunkBounds({ messages: at(10, 11), recordedSpan: span(10, 15) }, 1)).toEqual([[0, 2]]);
  });

  it('ignores a span the batch does not start in', () => {
    expect(chunkBounds({ messages: at(20, 21, 22), recordedSpan: span(10, 15) }, 2)).toEqual([
      [0, 2],
      [2, 3],
    ]);
    expect(chunkBounds({ messages: at(8, 9, 10), recordedSpan: span(10, 15) }, 2)).toEqual([
      [0, 2],
      [2, 3],
    ]);
  });
});
