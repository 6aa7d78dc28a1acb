// kafkajs adapter of KafkaProducerPort: an idempotent producer with acks=all and one request in
// flight, so a send resolves only once every message is on all in-sync replicas, in order. Its
// records are encoded by kafkajs-producer-records.ts, batches checksummed by kafkajs-producer-crc.ts
// and keys partitioned by kafkajs-producer-partitioner.ts (the same bytes and partitions as
// kafkajs's, less CPU).
import type { Kafka, Producer } from 'kafkajs';
import { installCrc32c } from './kafkajs-producer-crc.ts';
import { createKeyPartitioner } from './kafkajs-producer-partitioner.ts';
import { installRecordEncoder } from './kafkajs-producer-records.ts';
import type { KafkaProducerPort, OutMessage } from './port.ts';

export class KafkajsProducer implements KafkaProducerPort {
  private readonly producer: Producer;
  constructor(kafka: Kafka) {
    installRecordEncoder(); // before the first send loads kafkajs's produce request
    installCrc32c(); // and its record batch module
    this.producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: createKeyPartitioner,
      // Retry sends for as long as kafkajs lets us (it can still give up during a broker outage;
      // the producer then restarts from the slot's confirmed position, losing nothing).
      retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 300, maxRetryTime: 5000 },
    });
  }
  connect() {
    return this.producer.connect();
  }
  async send(topic: string, messages: OutMessage[]): Promise<void> {
    if (messages.length === 0) return;
    await this.producer.send({ topic, acks: -1, messages });
  }
  disconnect() {
    return this.producer.disconnect();
  }
}
