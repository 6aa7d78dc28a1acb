// Where the consumer group loop cuts a partition batch into chunks: every `size` messages, except
// that a batch starting inside a recorded span (a chunk that was being handled when its consumer
// stopped, crashed or lost the partition: pipeline/kafka/port.ts recordedSpan) gets that span
// back as its first chunk, whatever its size. A sink whose requests depend on the chunk (webhook
// batches, consumers/webhook/plan.ts) then sends the same requests again. Pure.
import type { PartitionBatch } from '../../pipeline/kafka/port.ts';

/** [from, to) indexes of the batch's messages, in order, covering all of them. */
export function chunkBounds(
  batch: Pick<PartitionBatch, 'messages' | 'recordedSpan'>,
  size: number,
): [number, number][] {
  const { messages, recordedSpan: span } = batch;
  const bounds: [number, number][] = [];
  let from = 0;
  const start = messages[0]?.offset;
  if (span && start !== undefined && span.first <= start && start <= span.last) {
    while (from < messages.length && messages[from]!.offset <= span.last) from++;
    bounds.push([0, from]);
  }
  for (; from < messages.length; from += size) bounds.push([from, Math.min(from + size, messages.length)]);
  return bounds;
}
