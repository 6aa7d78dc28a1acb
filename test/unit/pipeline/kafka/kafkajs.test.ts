// A kafkajs failure to reach the brokers becomes an error naming kafka.brokers and the addresses.
import { describe, expect, it } from 'vitest';
import { UnavailableError } from '../../../../pipeline/errors.ts';
import { namingBrokers } from '../../../../pipeline/kafka/kafkajs.ts';

describe('namingBrokers', () => {
  const brokers = ['kafka-1:9092', 'kafka-2:9092'];
  it.each([
    Object.assign(new Error('Connection error: connect ECONNREFUSED 10.0.0.1:9092'), {
      name: 'KafkaJSConnectionError',
    }),
    Object.assign(new Error('Failed to connect: getaddrinfo ENOTFOUND kafka-1'), { name: 'Error' }),
    Object.assign(new Error('retries exceeded'), { name: 'KafkaJSNumberOfRetriesExceeded' }),
  ])('names kafka.brokers for %s', (err) => {
    const named = namingBrokers(err, brokers);
    expect(named).toBeInstanceOf(UnavailableError);
    expect((named as UnavailableError).message).toContain(
      'cannot reach Kafka at kafka-1:9092, kafka-2:9092 (kafka.brokers)',
    );
    expect((named as UnavailableError).hint).toContain('check kafka.brokers (kafka-1:9092, kafka-2:9092)');
  });

  it('leaves other errors alone', () => {
    const err = Object.assign(new Error('Not authorized to access topics'), {
      name: 'KafkaJSProtocolError',
    });
    expect(namingBrokers(err, brokers)).toBe(err);
  });
});
