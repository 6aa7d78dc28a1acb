// waitForLeaders (pipeline/kafka/kafkajs-admin.ts): right after CreateTopics a KRaft broker may
// answer UNKNOWN_TOPIC_OR_PARTITION or show partitions without a leader; ensureTopic waits that out
// instead of failing the producer's first session (kafkajs's own wait gives up on the first one).
import type { Admin } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { waitForLeaders } from '../../../../pipeline/kafka/kafkajs-admin.ts';

type Meta = Awaited<ReturnType<Admin['fetchTopicMetadata']>>;
const kafkaError = (type: string) => Object.assign(new Error(type), { type });
const meta = (leaders: number[]): Meta => ({
  topics: [
    {
      name: 't',
      partitions: leaders.map((leader, partitionId) => ({
        partitionId,
        leader,
        replicas: [1],
        isr: [1],
        offlineReplicas: [],
        partitionErrorCode: 0,
      })),
    },
  ],
});

/** An admin whose metadata answers come from a script, one per call. */
function scripted(answers: (Meta | Error)[]) {
  let calls = 0;
  const admin: Pick<Admin, 'fetchTopicMetadata'> = {
    fetchTopicMetadata: () => {
      const a = answers[Math.min(calls++, answers.length - 1)]!;
      return a instanceof Error ? Promise.reject(a) : Promise.resolve(a);
    },
  };
  return { admin, calls: () => calls };
}

describe('waitForLeaders', () => {
  it('waits out "unknown topic" and leaderless partitions until every partition has a leader', async () => {
    const s = scripted([
      kafkaError('UNKNOWN_TOPIC_OR_PARTITION'),
      kafkaError('LEADER_NOT_AVAILABLE'),
      meta([1]),
      meta([1, -1, 1]),
      meta([1, 1, 1]),
    ]);
    await waitForLeaders(s.admin, 't', 3);
    expect(s.calls()).toBe(5);
  });

  it('fails at once on any other error', async () => {
    const s = scripted([kafkaError('TOPIC_AUTHORIZATION_FAILED')]);
    await expect(waitForLeaders(s.admin, 't', 1)).rejects.toThrow('TOPIC_AUTHORIZATION_FAILED');
    expect(s.calls()).toBe(1);
  });

  it('gives up with a message naming the topic when leaders never appear', async () => {
    const s = scripted([meta([-1])]);
    const wait = { maxAttempts: 5, maxDelayMs: 1 };
    await expect(waitForLeaders(s.admin, 't', 1, wait)).rejects.toThrow(
      'topic t: partitions without a leader yet',
    );
    expect(s.calls()).toBe(5);
  });
});
