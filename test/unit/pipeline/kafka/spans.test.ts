// pipeline/kafka/kafkajs-consumer.ts: a chunk's span as offset-commit metadata, and which batch
// starts inside the span recorded at the committed offset.
import { describe, expect, it } from 'vitest';
import { spanAtStart, spanLast, spanMetadata } from '../../../../pipeline/kafka/kafkajs-consumer.ts';

describe('chunk spans in offset-commit metadata', () => {
  it('round-trips the last offset; other metadata names no span', () => {
    expect(spanLast(spanMetadata(1234567890123n))).toBe(1234567890123n);
    for (const other of [
      null,
      undefined,
      '',
      'pgcdc-chunk-last:',
      'pgcdc-chunk-last:-1',
      'x',
      'pgcdc-chunk-last:1 ',
    ])
      expect(spanLast(other)).toBeUndefined();
  });

  it('a batch starting at or inside the recorded span gets it; any other batch not', () => {
    const committed = { offset: 10n, last: 14n };
    expect(spanAtStart(committed, 10n)).toEqual({ first: 10n, last: 14n });
    expect(spanAtStart(committed, 14n)).toEqual({ first: 10n, last: 14n });
    expect(spanAtStart(committed, 15n)).toBeUndefined();
    expect(spanAtStart(committed, 9n)).toBeUndefined();
    expect(spanAtStart({ offset: 10n, last: undefined }, 10n)).toBeUndefined();
    expect(spanAtStart(undefined, 10n)).toBeUndefined();
  });
});
