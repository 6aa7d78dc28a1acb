// `pgcdc check` for Kafka: the brokers answer, and the change topic (and the status topic) are
// configured the way the pipeline expects, or will be created.
import type { Config } from '../../pipeline/config/schema.ts';
import { dlqTopicFor, topicFor } from '../../pipeline/config/schema.ts';
import type { KafkaAdminPort, KafkaClientFactory } from '../../pipeline/kafka/port.ts';
import { STATUS_TOPIC_CONFIG, statusTopicFor } from '../../pipeline/supervision/status-store.ts';
import { connectionFailure, kafkaContext } from './transport.ts';
import { error, errMessage, info, ok, warn, type CheckResult } from './types.ts';

const hours = (ms: string | undefined) =>
  ms === undefined ? '?' : Number(ms) < 0 ? 'forever' : `${(Number(ms) / 3_600_000).toFixed(1)} h`;

export async function checkKafka(config: Config, kafka: KafkaClientFactory): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  const brokers = config.kafka.brokers.join(', ');
  const admin = kafka.admin();
  try {
    await admin.connect();
    const topic = topicFor(config.kafka, config.source);
    const d = await admin.describeTopic(topic);
    out.push(ok('kafka.connect', `brokers ${brokers} answer`));
    const wantedPolicy = config.kafka.topicConfig['cleanup.policy'];
    if (!d) {
      out.push(
        warn(
          'kafka.topic',
          `topic ${topic} does not exist; pgcdc produce will create it with ${config.kafka.partitions} partitions${wantedPolicy ? `, cleanup.policy=${wantedPolicy}` : ''}`,
          'nothing to do (the broker must allow CreateTopics for this client), or create it yourself',
        ),
      );
    } else {
      if (d.partitions !== config.kafka.partitions) {
        out.push(
          warn(
            'kafka.partitions',
            `topic ${topic} has ${d.partitions} partitions, kafka.partitions says ${config.kafka.partitions}; the topic is used as it is`,
            `set kafka.partitions: ${d.partitions} to match (adding partitions later moves keys to other partitions: do it only while the pipeline is caught up and stopped)`,
          ),
        );
      } else {
        out.push(ok('kafka.partitions', `topic ${topic} has ${d.partitions} partitions`));
      }
      const policy = d.config['cleanup.policy'] ?? 'delete';
      const retention = hours(d.config['retention.ms']);
      if (wantedPolicy && wantedPolicy !== policy) {
        out.push(
          warn(
            'kafka.cleanup_policy',
            `topic ${topic} has cleanup.policy=${policy}, kafka.topicConfig says ${wantedPolicy} (only applied when pgcdc creates the topic)`,
            `kafka-configs --alter --entity-type topics --entity-name ${topic} --add-config cleanup.policy=${wantedPolicy}`,
          ),
        );
      } else if (policy.includes('compact')) {
        out.push(
          ok(
            'kafka.cleanup_policy',
            `cleanup.policy=${policy}: the latest event of every key is kept, so a replay from earliest rebuilds a target${policy.includes('delete') ? ` (older than ${retention} deleted)` : ''}`,
          ),
        );
      } else {
        out.push(
          info(
            'kafka.cleanup_policy',
            `cleanup.policy=${policy}, retention ${retention}: replay can go back that far; older events are gone`,
            'use cleanup.policy=compact (kafka.topicConfig) if targets must be rebuildable from the topic',
          ),
        );
      }
    }
    const statusTopic = statusTopicFor(config.kafka, config.operations);
    const s = await admin.describeTopic(statusTopic);
    if (!s) {
      out.push(
        info(
          'kafka.status_topic',
          `status topic ${statusTopic} will be created (compacted) by the first producer/consumer`,
        ),
      );
    } else if (!(s.config['cleanup.policy'] ?? '').includes('compact')) {
      out.push(
        warn(
          'kafka.status_topic',
          `status topic ${statusTopic} is not compacted (cleanup.policy=${s.config['cleanup.policy']}): it keeps growing and pgcdc status reads it all`,
          `kafka-configs --alter --entity-type topics --entity-name ${statusTopic} --add-config cleanup.policy=${STATUS_TOPIC_CONFIG['cleanup.policy']}`,
        ),
      );
    } else {
      out.push(ok('kafka.status_topic', `status topic ${statusTopic} is compacted`));
    }
    for (const [i, t] of config.targets.entries()) out.push(await checkDlqTopic(config, admin, i, t));
  } catch (err) {
    out.push(
      connectionFailure(
        'kafka.connect',
        err,
        kafkaContext(config),
        {
          message: `Kafka brokers ${brokers} unreachable or refusing: ${errMessage(err)}`,
          fix: `start Kafka, or fix kafka.brokers (host:port of the broker listeners this host can reach)${config.kafka.tls ? '' : '; a TLS listener needs kafka.tls'}`,
        },
        `Kafka brokers ${brokers}`,
      ),
    );
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
  return out;
}

/**
 * A target's dead-letter topic exists, or the broker would create it (asked with validate-only):
 * one it refuses would block the target's partition at its first dead letter.
 */
async function checkDlqTopic(
  config: Config,
  admin: KafkaAdminPort,
  i: number,
  t: Config['targets'][number],
): Promise<CheckResult> {
  const id = `target.${t.name}.dlq_topic`;
  const topic = dlqTopicFor(config.kafka, t);
  if (await admin.describeTopic(topic)) return ok(id, `dead-letter topic ${topic} exists`);
  const refusal = await admin.topicRefusal({
    topic,
    partitions: config.kafka.partitions,
    replicationFactor: config.kafka.replicationFactor,
  });
  if (refusal === undefined) {
    return info(id, `dead-letter topic ${topic} will be created at the first dead letter`);
  }
  return error(
    id,
    `the broker refuses to create dead-letter topic ${topic}: ${refusal}`,
    `fix targets[${i}].dlqTopic (${t.name}), or create the topic yourself; otherwise the target's partition blocks at its first dead letter`,
  );
}
