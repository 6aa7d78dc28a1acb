// kafkajs lines about conditions it retries by itself while Kafka settles (a coordinator loading,
// a leader not elected yet) are logged at debug, so they do not appear in the demo's output;
// other warnings stay warnings, and unreachable brokers are named.
import { logLevel } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { kafkajsLineLevel } from '../../../../pipeline/kafka/kafkajs.ts';

describe('kafkajsLineLevel', () => {
  it.each([
    [
      "The coordinator is loading and hence can't process requests for this group",
      'Response InitProducerId(key: 22, version: 1)',
    ],
    ['The group coordinator is not available', 'Response GroupCoordinator(key: 10, version: 2)'],
    ['This server does not host this topic-partition', 'Response Metadata(key: 3, version: 6)'],
  ])('logs the transient "%s" at debug', (error, message) => {
    expect(kafkajsLineLevel(logLevel.WARN, message, error)).toBe('debug');
    expect(kafkajsLineLevel(logLevel.ERROR, message, error)).toBe('debug');
  });

  it('keeps other warnings and errors at warn, and names unreachable brokers', () => {
    expect(
      kafkajsLineLevel(logLevel.ERROR, 'Crash: KafkaJSNonRetriableError', 'Topic authorization failed'),
    ).toBe('warn');
    expect(kafkajsLineLevel(logLevel.ERROR, 'Connection error', 'connect ECONNREFUSED 127.0.0.1:9')).toBe(
      'unreachable',
    );
    expect(kafkajsLineLevel(logLevel.INFO, 'Starting', '')).toBe('debug');
  });
});
