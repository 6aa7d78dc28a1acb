// The kafkajs producer's partitioner (pipeline/kafka/kafkajs-producer-partitioner.ts) puts every
// key on the partition kafkajs's DefaultPartitioner (Java's) puts it on: per-key order holds.
import fc from 'fast-check';
import { Partitioners, type PartitionMetadata } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { createKeyPartitioner, murmur2 } from '../../../../pipeline/kafka/kafkajs-producer-partitioner.ts';

const metadata = (n: number): PartitionMetadata[] =>
  Array.from({ length: n }, (_, i) => ({
    partitionErrorCode: 0,
    partitionId: i,
    leader: 1,
    replicas: [1],
    isr: [1],
  }));

describe('key partitioner', () => {
  it('agrees with kafkajs for every key and partition count', () => {
    const ours = createKeyPartitioner();
    const theirs = Partitioners.DefaultPartitioner();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 1, max: 64 }), (bytes, n) => {
        const args = {
          topic: 't',
          partitionMetadata: metadata(n),
          message: { key: Buffer.from(bytes), value: null },
        };
        expect(ours(args)).toBe(theirs(args));
      }),
      { numRuns: 2000 },
    );
  });

  it("matches Java's murmur2 on known values", () => {
    // org.apache.kafka.common.utils.UtilsTest#testMurmur2
    expect(murmur2(Buffer.from('21'))).toBe(-973932308);
    expect(murmur2(Buffer.from('foobar'))).toBe(-790332482);
    expect(murmur2(Buffer.from('a-little-bit-long-string'))).toBe(-985981536);
    expect(murmur2(Buffer.from('a-little-bit-longer-string'))).toBe(-1486304829);
    expect(murmur2(Buffer.from('lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8'))).toBe(-58897971);
  });

  it('keeps an explicit partition and string keys as kafkajs does', () => {
    const ours = createKeyPartitioner();
    const theirs = Partitioners.DefaultPartitioner();
    const md = metadata(7);
    expect(
      ours({ topic: 't', partitionMetadata: md, message: { key: 'k', value: null, partition: 5 } }),
    ).toBe(5);
    for (const key of ['user-1', 'é', ''])
      expect(ours({ topic: 't', partitionMetadata: md, message: { key, value: null } })).toBe(
        theirs({ topic: 't', partitionMetadata: md, message: { key, value: null } }),
      );
  });
});
