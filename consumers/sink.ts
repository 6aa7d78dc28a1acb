// The sink port: what every target kind (postgres, webhook, ...) implements. A sink applies a batch
// of decoded events idempotently and says what became of each one.
import type { ChangeEvent, Row } from '../schemas/contract.ts';

export interface DecodedEvent {
  offset: bigint;
  key: Row;
  event: ChangeEvent;
}

export interface DeadLetter {
  offset: bigint;
  reason: string;
  error: string;
}

export interface ApplyResult {
  /** events applied (or found already applied) */
  applied: DecodedEvent[];
  /** events the target rejected for good: they go to the dead-letter topic */
  deadLetters: DeadLetter[];
  /** apply stopped before this event, which must be retried later (everything before is done) */
  retryFrom?: { offset: bigint; reason: string; error: string };
}

export interface Sink {
  readonly kind: string;
  open(): Promise<void>;
  apply(events: DecodedEvent[]): Promise<ApplyResult>;
  close(): Promise<void>;
}
