// Our own small Kafka interface. The pipeline depends on this, not on kafkajs, so another client
// can be measured against it. Correctness never relies on the client's rebalance behaviour: sinks
// are idempotent and offsets are committed only after a batch is applied.

export interface OutMessage {
  key: Buffer;
  value: Buffer | null;
  headers?: Record<string, string>;
}

export interface TopicSpec {
  topic: string;
  partitions: number;
  replicationFactor: number;
  config?: Record<string, string>;
}

export interface KafkaProducerPort {
  connect(): Promise<void>;
  /** Resolves once every message is acknowledged by all in-sync replicas (acks=all), in order. */
  send(topic: string, messages: OutMessage[]): Promise<void>;
  disconnect(): Promise<void>;
}

export interface InMessage {
  partition: number;
  offset: bigint;
  key: Buffer | null;
  value: Buffer | null;
  timestampMs: number;
  headers: Record<string, string>;
}

export interface PartitionBatch {
  topic: string;
  partition: number;
  messages: InMessage[];
  highWatermark: bigint;
  /**
   * Only when run with `recordSpans`: the chunk recorded by recordSpan at the partition's
   * committed offset, when this batch starts inside it. That chunk may have been delivered in part
   * before its consumer stopped, crashed or lost the partition: handle it again as one chunk.
   */
  recordedSpan?: ChunkSpan;
}

/** The first and last offsets of a chunk of a partition. */
export interface ChunkSpan {
  first: bigint;
  last: bigint;
}

/** What the handler did with a batch: everything, or a prefix (the rest is retried later). */
export type BatchOutcome =
  | { kind: 'done' }
  | {
      kind: 'retry-from';
      offset: bigint;
      afterMs: number;
      /** aborted when waiting longer is pointless (what the batch waits for moved): retry at once */
      wake?: AbortSignal;
    };

export interface BatchContext {
  heartbeat(): Promise<void>;
  /** True once the batch was revoked or superseded (rebalance, seek): stop working on it. */
  isStale(): boolean;
  /**
   * Only when run with `recordSpans`: commits `span.first` (everything before it is done) and
   * names the span with it, before the handler delivers the chunk; false when the consumer no
   * longer runs or the batch is stale (then nothing may be delivered).
   */
  recordSpan(span: ChunkSpan): Promise<boolean>;
}

export interface ConsumerRunOptions {
  /** record each chunk's span before it is handled (recordSpan) and hand it back after a restart */
  recordSpans?: boolean;
  /**
   * handler calls for different partitions that may run at the same time (default 1: one after
   * another); the calls for one partition never overlap
   */
  concurrency?: number;
  /** told how long each offset commit took (seconds), for the consumer's stage timings */
  onCommitted?: (seconds: number) => void;
  /**
   * told when the Kafka client stopped consuming after an error it does not retry itself (a
   * broker answer it gives up on, an error thrown by the handler marked not retriable); the
   * adapter starts consuming again with the backoff, from the committed offsets
   */
  onCrash?: (err: unknown, restartInMs: number) => void;
}

export interface KafkaConsumerPort {
  /** Starts consuming `topics` (one or several); offsets are committed only for what the handler reports as done. */
  run(
    topics: string | readonly string[],
    handler: (batch: PartitionBatch, ctx: BatchContext) => Promise<BatchOutcome>,
    opts?: ConsumerRunOptions,
  ): Promise<void>;
  stop(): Promise<void>;
}

export interface GroupOffsets {
  partition: number;
  offset: bigint; // -1 when the group has no committed offset
}

/**
 * What the running pipeline needs of Kafka administration: its topics (create, describe, their
 * offsets) and a group's committed offsets (lag, restored counters). Nothing here changes a group.
 */
export interface KafkaAdminPort {
  connect(): Promise<void>;
  ensureTopic(spec: TopicSpec): Promise<'created' | 'exists'>;
  /** Asks the broker whether it would create the topic (validate only): its refusal, or undefined. */
  topicRefusal(spec: TopicSpec): Promise<string | undefined>;
  /** Partition count and (non-default and default) topic configs; undefined when the topic does not exist. */
  describeTopic(topic: string): Promise<TopicDescription | undefined>;
  topicOffsets(topic: string): Promise<TopicOffsets[]>;
  groupOffsets(groupId: string, topic: string): Promise<GroupOffsets[]>;
  deleteTopic(topic: string): Promise<void>;
  disconnect(): Promise<void>;
}

/**
 * What the operator verbs (replay, status, dlq redrive) need beyond the pipeline's port: a group's
 * members and moving its committed offsets. Kept apart so no stage can rewind a group by accident.
 */
export interface KafkaGroupAdminPort {
  connect(): Promise<void>;
  /** The topic's [low, high) per partition: where a group's offsets can be moved to. */
  topicOffsets(topic: string): Promise<TopicOffsets[]>;
  groupOffsets(groupId: string, topic: string): Promise<GroupOffsets[]>;
  setGroupOffsets(
    groupId: string,
    topic: string,
    offsets: { partition: number; offset: bigint }[],
  ): Promise<void>;
  /** First offset whose message timestamp is >= timestampMs, per partition (the high watermark if none). */
  offsetsForTime(topic: string, timestampMs: number): Promise<{ partition: number; offset: bigint }[]>;
  describeGroup(groupId: string): Promise<GroupDescription>;
  /**
   * Removes the group's active members (LeaveGroup on their behalf) and returns them. They notice at their next heartbeat, rejoin, and resume from the committed
   * offsets. For operators' `--force` only.
   */
  removeGroupMembers(groupId: string): Promise<GroupMember[]>;
  /**
   * Commits offsets for the group in one OffsetCommit request as an outsider (generation -1), the
   * way Kafka's own admin tools do: no group join, so no rebalance. The broker refuses it while the
   * group has members.
   */
  commitGroupOffsets(
    groupId: string,
    topic: string,
    offsets: { partition: number; offset: bigint }[],
  ): Promise<void>;
  deleteGroup(groupId: string): Promise<void>;
  disconnect(): Promise<void>;
}

export interface TopicOffsets {
  partition: number;
  low: bigint;
  high: bigint;
}

export interface GroupMember {
  memberId: string;
  clientId: string;
  host: string;
}

export interface GroupDescription {
  /** Kafka's group state: Empty, Stable, PreparingRebalance, CompletingRebalance, Dead, Unknown. */
  state: string;
  members: number;
  memberList: GroupMember[];
}

export interface TopicDescription {
  partitions: number;
  config: Record<string, string>;
}

/** Messages of one partition in [from, to). */
export interface ReadRange {
  partition: number;
  from: bigint;
  to: bigint;
}

export interface KafkaReaderPort {
  /**
   * Reads the messages of each range (at most `limitPerPartition` each, first ones first) without
   * touching any real consumer group: a throwaway group that never commits, deleted afterwards.
   * Offsets missing from a compacted topic are simply absent from the result.
   */
  read(
    topic: string,
    ranges: ReadRange[],
    opts?: { limitPerPartition?: number; timeoutMs?: number },
  ): Promise<InMessage[]>;
}

export interface KafkaClientFactory {
  producer(): KafkaProducerPort;
  consumer(groupId: string): KafkaConsumerPort;
  admin(): KafkaAdminPort;
  groupAdmin(): KafkaGroupAdminPort;
  reader(): KafkaReaderPort;
}
