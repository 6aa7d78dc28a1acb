// The sink port: what every target kind (postgres, webhook, ...) implements. A sink applies a batch
// of decoded events idempotently and says what became of each one.
import type { ChangeEvent, Row } from '../schemas/contract.ts';

export interface DecodedEvent {
  offset: bigint;
  /** the partition the message came from (set by the consumer group's decoding) */
  partition?: number;
  key: Row;
  event: ChangeEvent;
  /** the event type a target's mapping gave it (a transition like user.activated); default from op */
  type?: string;
}

export interface DeadLetter {
  offset: bigint;
  reason: string;
  error: string;
  /** attempts made before giving up (default 1) */
  attempts?: number;
  /** extra dead-letter headers (e.g. the HTTP status of a webhook) */
  headers?: Record<string, string>;
  /** the driver's error, if any: the dead letter keeps its SQLSTATE and DETAIL, status shows no values */
  cause?: unknown;
}

export interface ApplyResult {
  /** events applied (or found already applied) */
  applied: DecodedEvent[];
  /** events the target rejected for good: they go to the dead-letter topic */
  deadLetters: DeadLetter[];
  /** apply stopped before this event, which must be retried later (everything before is done) */
  retryFrom?: { offset: bigint; reason: string; error: string };
}

/** What the consumer lends a sink while it applies a batch that may take long (retries). */
export interface ApplyContext {
  /** keeps the consumer's group membership alive: call it while waiting */
  heartbeat(): Promise<void>;
  /** true once the batch is no longer wanted (revoked, consumer stopping): give up by throwing */
  isStale(): boolean;
  /** a transient failure the sink keeps retrying, shown in the target's status */
  reportError?(message: string): void;
}

export interface Sink {
  readonly kind: string;
  open(): Promise<void>;
  apply(events: DecodedEvent[], ctx?: ApplyContext): Promise<ApplyResult>;
  close(): Promise<void>;
}
