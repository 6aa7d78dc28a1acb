// Webhook target: POSTs each change event (or a JSON array of `batchSize` events) to a receiver,
// signed by the Standard Webhooks scheme. Order per user: the chunk is cut into lanes of whole keys
// (plan.ts, pure, so a redelivered chunk gets the same requests and webhook-ids); up to
// `concurrency` workers each take whole lanes and send their requests one after another, so a
// later event of a user never leaves before the earlier one succeeded or was dead-lettered. The
// consumer may hand it chunks of several partitions at once (one user's events are in one
// partition); the target's requests in flight stay at most `concurrency` (limiter.ts).
// Failures are retried with backoff (Retry-After honoured) up to `maxAttempts`, then dead-lettered
// (or retried forever with onFailure: block); a circuit breaker pauses everything while the
// receiver keeps failing. apply() returns only when every event is delivered or dead-lettered, so
// the runner commits offsets only then. A delete is delivered once even when its tombstone (which
// repeats it, same event id) arrives in the next chunk, where the decoder cannot see the delete.
// An event whose jsonb is not one JSON value is dead-lettered alone, before any request.
import type { WebhookTargetConfig } from '../../pipeline/config/schema.ts';
import { PgcdcError } from '../../pipeline/errors.ts';
import type { Logger } from '../../pipeline/observability/logger.ts';
import type { Metrics } from '../../pipeline/observability/metrics.ts';
import type { ColumnSpec } from '../../schemas/contract.ts';
import type { ApplyContext, ApplyResult, DeadLetter, DecodedEvent, Sink } from '../sink.ts';
import { CircuitBreaker } from './breaker.ts';
import { httpsTlsOptions } from '../../pipeline/transport.ts';
import { createUndiciTransport, TransportError, type WebhookTransport } from './http.ts';
import { renderBody } from './payload.ts';
import { keyOf, planDeliveries, requestId } from './plan.ts';
import { classifyStatus, nextDelayMs, type Verdict } from './policy.ts';
import { createRequestLimiter, type RequestLimiter } from './limiter.ts';
import { signWithKey, webhookSecretKey } from './verify.ts';

/** Dead-letter headers a webhook adds to the runner's (see consumers/dlq.ts). */
export const WEBHOOK_DLQ_HEADERS = {
  status: 'pgcdc-dlq-http-status',
  body: 'pgcdc-dlq-http-body',
} as const;

/** Thrown when the batch is no longer wanted (revoked, stopping): nothing after it was committed. */
export class DeliveryAborted extends PgcdcError {
  constructor(target: string) {
    super(`target ${target}: delivery interrupted (batch revoked or consumer stopping)`, { retriable: true });
  }
}

export interface WebhookSinkDeps {
  logger: Logger;
  metrics: Metrics;
  /** default: undici with the target's timeouts */
  transport?: WebhookTransport;
  now?: () => number;
  random?: () => number;
  /**
   * the target's requests in flight, shared with whatever else delivers for it (its other tables'
   * sinks, the partitions handled at once); default: this sink's own, of `concurrency` slots
   */
  limiter?: RequestLimiter;
}

const NO_CONTEXT: ApplyContext = { heartbeat: () => Promise.resolve(), isStale: () => false };
/** Deletes remembered (key -> event id) to recognise their tombstone in a later chunk. */
const REMEMBERED_DELETES = 10_000;
/** While waiting (backoff, open circuit), wake this often to heartbeat and check for revocation. */
const WAIT_SLICE_MS = 1000;

type Outcome = { ok: true } | { ok: false; dead: Omit<DeadLetter, 'offset'> };

/** Origin and path only: a query string or user info may hold a token. */
function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '(invalid url)';
  }
}

export class WebhookSink implements Sink {
  readonly kind = 'webhook';
  private transport: WebhookTransport | undefined;
  private closed = false;
  private readonly breaker: CircuitBreaker;
  private readonly log: Logger;
  private readonly where: string;
  private readonly now: () => number;
  private readonly random: () => number;
  /** the last delete delivered per key (bounded, oldest forgotten first) */
  private readonly deliveredDeletes = new Map<string, string>();
  private readonly limiter: RequestLimiter;
  /** the HMAC key of the secret, read once */
  private readonly key: Buffer;

  constructor(
    private readonly cfg: WebhookTargetConfig,
    private readonly columns: ColumnSpec[],
    private readonly deps: WebhookSinkDeps,
  ) {
    this.log = deps.logger.child({ component: 'webhook', target: cfg.name });
    this.where = describeUrl(cfg.url);
    this.now = deps.now ?? Date.now;
    this.random = deps.random ?? Math.random;
    this.limiter = deps.limiter ?? createRequestLimiter(cfg.concurrency);
    this.key = webhookSecretKey(cfg.secret);
    this.breaker = new CircuitBreaker({
      failureThreshold: cfg.circuitBreaker.failureThreshold,
      cooldownMs: cfg.circuitBreaker.cooldown * 1000,
      now: this.now,
      onChange: (state) => {
        deps.metrics.webhookCircuitOpen.set({ target: cfg.name }, state === 'closed' ? 0 : 1);
        const msg = `circuit ${state}`;
        if (state === 'open')
          this.log.warn(
            { cooldownS: cfg.circuitBreaker.cooldown },
            `${msg}: receiver keeps failing, pausing`,
          );
        else this.log.info(msg);
      },
    });
  }

  open(): Promise<void> {
    // No probe request: a receiver that is down is the breaker's business, not a start failure.
    if (this.closed) return Promise.reject(new PgcdcError(`target ${this.cfg.name}: sink is closed`));
    this.transport ??=
      this.deps.transport ??
      createUndiciTransport({
        connectTimeoutMs: this.cfg.connectTimeout * 1000,
        responseTimeoutMs: this.cfg.responseTimeout * 1000,
        connections: this.cfg.concurrency,
        tls: httpsTlsOptions(this.cfg.tls, `targets[${this.cfg.name}].tls`),
      });
    return Promise.resolve();
  }

  async close(): Promise<void> {
    this.closed = true;
    const t = this.transport;
    this.transport = undefined;
    await t?.close().catch(() => undefined);
  }

  async apply(events: DecodedEvent[], ctx: ApplyContext = NO_CONTEXT): Promise<ApplyResult> {
    if (!this.transport) await this.open();
    const plan = planDeliveries(events, this.cfg.batchSize, this.columns);
    const dead: DeadLetter[] = [...plan.invalid];
    const delivered = new Set<DecodedEvent>();
    let failed = false;
    const aborted = () => failed || this.closed || ctx.isStale();
    const send = async (request: DecodedEvent[]) => {
      const { lead } = plan;
      // the tombstone of a delete delivered with the previous chunk repeats it: not sent again
      if (lead && request[0] === lead && this.deliveredDeletes.get(keyOf(lead.key)) === lead.event.event_id) {
        delivered.add(lead);
        return;
      }
      const out = await this.deliver(request, ctx, aborted);
      if (out.ok) for (const e of request) this.markDelivered(e, delivered);
      else for (const e of request) dead.push({ offset: e.offset, ...out.dead });
    };

    // A worker takes whole lanes and sends their requests in order.
    const queue = [...plan.lanes];
    const worker = async () => {
      for (let lane = queue.shift(); lane; lane = queue.shift())
        for (const request of lane) await send(request);
    };
    const workers = Math.min(this.cfg.concurrency, queue.length);
    // A slow receiver must not cost the consumer its group membership: heartbeat meanwhile.
    const beat = setInterval(() => void ctx.heartbeat().catch(() => undefined), WAIT_SLICE_MS);
    const settled = await Promise.allSettled(
      Array.from({ length: workers }, () =>
        worker().catch((err: unknown) => {
          failed = true;
          throw err;
        }),
      ),
    ).finally(() => clearInterval(beat));
    const rejected = settled.find((s) => s.status === 'rejected');
    if (rejected) throw rejected.reason;
    return {
      applied: events.filter((e) => delivered.has(e)),
      deadLetters: dead.sort((a, b) => (a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0)),
    };
  }

  private markDelivered(e: DecodedEvent, delivered: Set<DecodedEvent>): void {
    delivered.add(e);
    if (e.event.op !== 'd') return;
    const k = keyOf(e.key);
    this.deliveredDeletes.delete(k);
    this.deliveredDeletes.set(k, e.event.event_id);
    if (this.deliveredDeletes.size > REMEMBERED_DELETES)
      this.deliveredDeletes.delete(this.deliveredDeletes.keys().next().value!);
  }

  /** Sends one request until it succeeds or is given up; waits in between. */
  private async deliver(group: DecodedEvent[], ctx: ApplyContext, aborted: () => boolean): Promise<Outcome> {
    const { cfg } = this;
    const block = cfg.onFailure === 'block';
    const id = requestId(group, cfg.batchSize);
    for (let attempt = 1; ; attempt++) {
      await this.acquireCircuit(ctx, aborted);
      const { verdict, code, detail, excerpt, latencyMs } = await this.attempt(group, id, attempt);
      this.deps.metrics.webhookResponses.inc({ target: cfg.name, code });
      this.deps.metrics.webhookRequestDuration.observe({ target: cfg.name }, latencyMs / 1000);
      const fields = { webhookId: id, events: group.length, code, latencyMs: Math.round(latencyMs), attempt };

      if (verdict.kind === 'success') {
        this.breaker.success();
        this.log.debug(fields, 'delivered');
        return { ok: true };
      }
      // A deliberate 4xx means the receiver is up: it does not count against the circuit.
      if (verdict.kind === 'permanent') this.breaker.success();
      else this.breaker.failure();
      const final = !block && (verdict.kind === 'permanent' || attempt >= cfg.maxAttempts);
      if (final) {
        this.log.warn(fields, `delivery failed for good: ${detail}`);
        return {
          ok: false,
          dead: {
            reason: verdict.kind === 'permanent' ? 'webhook-rejected' : 'webhook-failed',
            error: `${this.where} answered ${detail} after ${attempt} attempt(s)`,
            attempts: attempt,
            headers: { [WEBHOOK_DLQ_HEADERS.status]: code, [WEBHOOK_DLQ_HEADERS.body]: excerpt },
          },
        };
      }
      const delayMs = nextDelayMs(
        attempt,
        verdict.kind === 'retry' ? verdict : { retryAfterMs: undefined },
        {
          initialMs: cfg.backoff.initial * 1000,
          maxMs: cfg.backoff.max * 1000,
          jitter: cfg.backoff.jitter,
          retryAfterMaxMs: cfg.retryAfterMax * 1000,
        },
        this.random,
      );
      this.deps.metrics.webhookRetries.inc({ target: cfg.name });
      const attempts = block ? `attempt ${attempt}` : `attempt ${attempt}/${cfg.maxAttempts}`;
      ctx.reportError?.(`target ${cfg.name}: ${this.where} answered ${detail} (${attempts}); retrying`);
      this.log.warn({ ...fields, retryInMs: delayMs }, `delivery failed: ${detail}; retrying`);
      await this.pause(delayMs, ctx, aborted);
    }
  }

  /** One attempt of a request, in one of the target's request slots: rendered, signed, sent. */
  private async attempt(group: DecodedEvent[], id: string, attempt: number) {
    const { cfg } = this;
    await this.limiter.acquire();
    try {
      const sentAt = this.now();
      const timestamp = Math.floor(sentAt / 1000);
      const body = renderBody(
        this.columns,
        group,
        { target: cfg.name, attempt, sentAtMs: sentAt },
        cfg.batchSize > 1,
      );
      const headers: Record<string, string> = {
        ...cfg.headers,
        'content-type': 'application/json',
        'user-agent': 'pgcdc-webhook/1',
        'webhook-id': id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signWithKey(this.key, { id, timestamp, body }),
      };
      const started = performance.now();
      const took = () => performance.now() - started;
      try {
        const res = await this.transport!.post(cfg.url, headers, body);
        const excerpt = res.bodyExcerpt;
        return {
          verdict: classifyStatus(res.status, res.retryAfter, this.now()),
          code: String(res.status),
          excerpt,
          detail: `HTTP ${res.status}${excerpt ? `: ${excerpt.slice(0, 300)}` : ''}`,
          latencyMs: took(),
        };
      } catch (err) {
        if (!(err instanceof TransportError)) {
          this.breaker.release();
          throw err;
        }
        const verdict: Verdict = { kind: 'retry', retryAfterMs: undefined };
        return { verdict, code: err.kind, excerpt: '', detail: err.message, latencyMs: took() };
      }
    } finally {
      this.limiter.release();
    }
  }

  /** Waits while the circuit is open; in half-open state only one request goes through. */
  private async acquireCircuit(ctx: ApplyContext, aborted: () => boolean): Promise<void> {
    for (;;) {
      if (aborted()) throw new DeliveryAborted(this.cfg.name);
      const grant = this.breaker.acquire();
      if (grant.ok) return;
      await this.pause(grant.waitMs, ctx, aborted);
    }
  }

  /** Sleeps in slices, heartbeating the consumer group; throws once the work is no longer wanted. */
  private async pause(ms: number, ctx: ApplyContext, aborted: () => boolean): Promise<void> {
    const until = performance.now() + ms;
    for (;;) {
      if (aborted()) throw new DeliveryAborted(this.cfg.name);
      const left = until - performance.now();
      if (left <= 0) return;
      await new Promise((r) => setTimeout(r, Math.min(left, WAIT_SLICE_MS)));
      await ctx.heartbeat().catch(() => undefined);
    }
  }
}
