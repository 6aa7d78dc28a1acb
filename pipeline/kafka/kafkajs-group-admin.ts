// kafkajs adapter of KafkaGroupAdminPort, for the operator verbs: describe a consumer group, remove
// its members, move or commit its offsets, delete it. Removing members and committing as an
// outsider use kafkajs's internal cluster (it has no public API for either).
import type { Admin, Kafka } from 'kafkajs';
import { fetchGroupOffsets, fetchTopicOffsets } from './kafkajs-admin.ts';
import type { GroupDescription, GroupMember, KafkaGroupAdminPort } from './port.ts';

/** The part of kafkajs's internal Cluster that removeGroupMembers and commitGroupOffsets need. */
interface InternalCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  findGroupCoordinator(o: { groupId: string }): Promise<{
    leaveGroup(o: { groupId: string; memberId: string }): Promise<unknown>;
    offsetCommit(o: {
      groupId: string;
      groupGenerationId: number;
      memberId: string;
      topics: { topic: string; partitions: { partition: number; offset: string }[] }[];
    }): Promise<{ responses: { partitions: { partition: number; errorCode: number }[] }[] }>;
  }>;
}

export class KafkajsGroupAdmin implements KafkaGroupAdminPort {
  private readonly admin: Admin;
  constructor(private readonly kafka: Kafka) {
    this.admin = kafka.admin();
  }
  connect() {
    return this.admin.connect();
  }
  topicOffsets(topic: string) {
    return fetchTopicOffsets(this.admin, topic);
  }
  groupOffsets(groupId: string, topic: string) {
    return fetchGroupOffsets(this.admin, groupId, topic);
  }
  async setGroupOffsets(groupId: string, topic: string, offsets: { partition: number; offset: bigint }[]) {
    await this.admin.setOffsets({
      groupId,
      topic,
      partitions: offsets.map((o) => ({ partition: o.partition, offset: o.offset.toString() })),
    });
  }
  async offsetsForTime(topic: string, timestampMs: number) {
    const res = await this.admin.fetchTopicOffsetsByTimestamp(topic, timestampMs);
    return res.map((o) => ({ partition: o.partition, offset: BigInt(o.offset) }));
  }
  async describeGroup(groupId: string): Promise<GroupDescription> {
    const { groups } = await this.admin.describeGroups([groupId]);
    const g = groups[0];
    const memberList = (g?.members ?? []).map((m) => ({
      memberId: m.memberId,
      clientId: m.clientId,
      host: m.clientHost,
    }));
    return { state: g?.state ?? 'Unknown', members: memberList.length, memberList };
  }
  async removeGroupMembers(groupId: string): Promise<GroupMember[]> {
    const { memberList } = await this.describeGroup(groupId);
    if (memberList.length === 0) return [];
    // kafkajs has no public RemoveMembersFromConsumerGroup: LeaveGroup (v3+, which names the member)
    // is sent to the group coordinator on each member's behalf through the client's cluster.
    const cluster = await this.cluster();
    try {
      const coordinator = await cluster.findGroupCoordinator({ groupId });
      for (const m of memberList) await coordinator.leaveGroup({ groupId, memberId: m.memberId });
    } finally {
      await cluster.disconnect();
    }
    return memberList;
  }
  async commitGroupOffsets(
    groupId: string,
    topic: string,
    offsets: { partition: number; offset: bigint }[],
  ): Promise<void> {
    const cluster = await this.cluster();
    try {
      const coordinator = await cluster.findGroupCoordinator({ groupId });
      const res = await coordinator.offsetCommit({
        groupId,
        groupGenerationId: -1,
        memberId: '',
        topics: [
          {
            topic,
            partitions: offsets.map((o) => ({ partition: o.partition, offset: o.offset.toString() })),
          },
        ],
      });
      const failed = res.responses.flatMap((t) => t.partitions).find((p) => p.errorCode !== 0);
      if (failed) throw new Error(`offset commit for ${groupId} refused (error code ${failed.errorCode})`);
    } finally {
      await cluster.disconnect();
    }
  }
  async deleteGroup(groupId: string) {
    const { groups } = await this.admin.listGroups();
    if (groups.some((g) => g.groupId === groupId)) await this.admin.deleteGroups([groupId]);
  }
  disconnect() {
    return this.admin.disconnect();
  }
  private async cluster(): Promise<InternalCluster> {
    const sym = Object.getOwnPropertySymbols(this.kafka).find(
      (s) => s.description === 'private:Kafka:createCluster',
    );
    const create = sym ? (this.kafka as unknown as Record<symbol, unknown>)[sym] : undefined;
    if (typeof create !== 'function') throw new Error('this kafkajs version cannot remove group members');
    const cluster = (create as (o: object) => InternalCluster)({});
    await cluster.connect();
    return cluster;
  }
}
