// Dead-letter topic writer: the original key and value bytes, plus headers saying where the event
// came from and why it was set aside. An offset is committed only after its dead letter is acked.
import type { KafkaAdminPort, KafkaProducerPort, InMessage } from '../pipeline/kafka/port.ts';
import { fullErrorText } from './group/public-error.ts';
import { UnavailableError } from '../pipeline/errors.ts';

export interface DeadLetterRecord {
  message: InMessage;
  sourceTopic: string;
  target: string;
  reason: string;
  error: string;
  attempts: number;
  /** extra headers (e.g. a webhook's HTTP status); the standard ones above take precedence */
  headers?: Record<string, string>;
  /** the driver's error behind `error`: the record gets its SQLSTATE and DETAIL (row values) */
  cause?: unknown;
}

/** Why an event is set aside: what a sink or the consumer group loop says about it. */
export interface SetAside {
  reason: string;
  error: string;
  /** attempts made before giving up (default 1) */
  attempts?: number;
  headers?: Record<string, string> | undefined;
  cause?: unknown;
}

export function deadLetterOf(
  message: InMessage,
  from: { sourceTopic: string; target: string },
  d: SetAside,
): DeadLetterRecord {
  return {
    message,
    ...from,
    reason: d.reason,
    error: d.error,
    attempts: d.attempts ?? 1,
    ...(d.headers ? { headers: d.headers } : {}),
    ...(d.cause === undefined ? {} : { cause: d.cause }),
  };
}

export const DLQ_HEADERS = {
  reason: 'pgcdc-dlq-reason',
  error: 'pgcdc-dlq-error',
  target: 'pgcdc-dlq-target',
  topic: 'pgcdc-dlq-original-topic',
  partition: 'pgcdc-dlq-original-partition',
  offset: 'pgcdc-dlq-original-offset',
  attempts: 'pgcdc-dlq-attempts',
  at: 'pgcdc-dlq-at',
} as const;

export class DeadLetterWriter {
  private ready = false;
  constructor(
    private readonly producer: KafkaProducerPort,
    private readonly admin: KafkaAdminPort,
    readonly topic: string,
    private readonly partitions: number,
    private readonly replicationFactor: number,
  ) {}

  async write(records: DeadLetterRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.writeTo(records).catch((err: unknown) => {
      throw new UnavailableError(
        `dead-letter topic ${this.topic}: ${err instanceof Error ? err.message : String(err)}`,
        {
          hint: `check targets[].dlqTopic (${this.topic}): a topic the broker lets this client create and write to (or create it yourself); pgcdc check tests it`,
          cause: err,
        },
      );
    });
  }

  private async writeTo(records: DeadLetterRecord[]): Promise<void> {
    if (!this.ready) {
      await this.admin.ensureTopic({
        topic: this.topic,
        partitions: this.partitions,
        replicationFactor: this.replicationFactor,
      });
      this.ready = true;
    }
    await this.producer.send(
      this.topic,
      records.map((r) => ({
        key: r.message.key ?? Buffer.alloc(0),
        value: r.message.value,
        headers: {
          ...r.message.headers,
          ...r.headers,
          [DLQ_HEADERS.reason]: r.reason,
          [DLQ_HEADERS.error]: fullErrorText(r.error, r.cause).slice(0, 2000),
          [DLQ_HEADERS.target]: r.target,
          [DLQ_HEADERS.topic]: r.sourceTopic,
          [DLQ_HEADERS.partition]: String(r.message.partition),
          [DLQ_HEADERS.offset]: r.message.offset.toString(),
          [DLQ_HEADERS.attempts]: String(r.attempts),
          [DLQ_HEADERS.at]: new Date().toISOString(),
        },
      })),
    );
  }
}
