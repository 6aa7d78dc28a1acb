// pipeline/kafka/offset-committer.ts: offsets committed off the fetch path, one request at a time,
// the latest per partition; a failed commit is tried again unless a later offset replaced it.
import { describe, expect, it } from 'vitest';
import { createOffsetCommitter, type QueuedOffset } from '../../../../pipeline/kafka/offset-committer.ts';

const at = (partition: number, offset: bigint, topic = 't'): QueuedOffset => ({ topic, partition, offset });
const show = (os: QueuedOffset[]) => os.map((o) => `${o.topic}/${o.partition}@${o.offset}`).sort();

describe('createOffsetCommitter', () => {
  it('one request at a time; what is queued meanwhile leaves together, the latest per partition', async () => {
    const sent: string[][] = [];
    let inFlight = 0;
    let most = 0;
    const committer = createOffsetCommitter({
      send: async (offsets) => {
        inFlight++;
        most = Math.max(most, inFlight);
        sent.push(show(offsets));
        await new Promise((r) => setTimeout(r, 5));
        inFlight--;
      },
      onError: () => undefined,
    });
    committer.queue(at(0, 10n));
    committer.queue(at(0, 11n)); // the same turn: replaces it
    await new Promise((r) => setTimeout(r, 1)); // the first request is in flight
    committer.queue(at(1, 4n));
    committer.queue(at(0, 12n));
    committer.queue(at(0, 15n));
    committer.queue(at(0, 3n, 'u')); // partition 0 of another topic is another partition
    await committer.flush();
    expect(most).toBe(1);
    expect(sent).toEqual([['t/0@11'], ['t/0@15', 't/1@4', 'u/0@3']]);
  });

  it('a failed commit is tried again, unless a later offset of the partition was queued meanwhile', async () => {
    const sent: string[][] = [];
    const errors: string[][] = [];
    let fail = 1;
    let queueDuringFailure: (() => void) | undefined;
    const committer = createOffsetCommitter({
      send: (offsets) => {
        sent.push(show(offsets));
        queueDuringFailure?.();
        queueDuringFailure = undefined;
        return fail-- > 0 ? Promise.reject(new Error('coordinator moved')) : Promise.resolve();
      },
      onError: (_err, offsets) => errors.push(show(offsets)),
      backoff: { initialMs: 1, maxMs: 2 },
    });
    queueDuringFailure = () => committer.queue(at(1, 9n));
    committer.queue(at(0, 10n));
    committer.queue(at(1, 7n));
    await committer.flush();
    expect(errors).toEqual([['t/0@10', 't/1@7']]);
    expect(sent).toEqual([
      ['t/0@10', 't/1@7'],
      ['t/0@10', 't/1@9'], // 1@7 was replaced by 1@9, not sent again after it
    ]);
  });

  it('drop forgets what is queued; stop ends the retries', async () => {
    const sent: string[][] = [];
    const committer = createOffsetCommitter({
      send: (offsets) => {
        sent.push(show(offsets));
        return Promise.reject(new Error('down'));
      },
      onError: () => undefined,
      backoff: { initialMs: 60_000, maxMs: 60_000 },
    });
    committer.queue(at(0, 1n));
    await new Promise((r) => setTimeout(r, 5)); // failed once, now waiting to retry
    committer.stop();
    await committer.flush(); // the retry wait ends at once
    expect(sent).toEqual([['t/0@1']]);

    const none: string[][] = [];
    const again = createOffsetCommitter({
      send: (offsets) => (none.push(show(offsets)), Promise.resolve()),
      onError: () => undefined,
    });
    again.queue(at(0, 1n));
    again.drop(); // before it left: nothing is sent
    await again.flush();
    expect(none).toEqual([]);
  });

  it('a request in flight when the group rebalances is not tried again after it failed', async () => {
    const sent: string[][] = [];
    let rebalance: (() => void) | undefined;
    const committer = createOffsetCommitter({
      send: (offsets) => {
        sent.push(show(offsets));
        rebalance?.(); // the member rejoins while the request is on its way; it then fails
        rebalance = undefined;
        return sent.length === 1 ? Promise.reject(new Error('illegal generation')) : Promise.resolve();
      },
      onError: () => undefined,
      backoff: { initialMs: 1, maxMs: 2 },
    });
    rebalance = () => committer.drop();
    committer.queue(at(0, 10n));
    await committer.flush();
    committer.queue(at(1, 3n)); // handled after the rebalance: committed as usual
    await committer.flush();
    expect(sent).toEqual([['t/0@10'], ['t/1@3']]);
  });
});
