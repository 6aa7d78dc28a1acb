// The webhook sink's only I/O: one POST, with a connect timeout and a response timeout, through a
// keep-alive undici pool (with the target's TLS: its CA, its client certificate). A failure to get an answer is a `TransportError` (timeout or network);
// an answer of any status is a `WebhookResponse`. The sink never sees undici types.
import { Agent, request } from 'undici';

export interface WebhookResponse {
  status: number;
  retryAfter: string | undefined;
  /** The first bytes of the response body (for logs and dead letters). */
  bodyExcerpt: string;
}

export class TransportError extends Error {
  constructor(
    readonly kind: 'timeout' | 'network',
    message: string,
    opts?: { cause?: unknown },
  ) {
    super(message, opts);
    this.name = 'TransportError';
  }
}

export interface WebhookTransport {
  post(url: string, headers: Record<string, string>, body: string): Promise<WebhookResponse>;
  close(): Promise<void>;
}

const EXCERPT_BYTES = 1024;

/** TLS to an https:// receiver: a private CA, a client certificate for mutual TLS. */
export interface WebhookTls {
  ca?: string;
  cert?: string;
  key?: string;
  rejectUnauthorized?: boolean;
}

export function createUndiciTransport(opts: {
  connectTimeoutMs: number;
  responseTimeoutMs: number;
  connections: number;
  tls?: WebhookTls | undefined;
}): WebhookTransport {
  const agent = new Agent({
    connect: { timeout: opts.connectTimeoutMs, ...opts.tls },
    headersTimeout: opts.responseTimeoutMs,
    bodyTimeout: opts.responseTimeoutMs,
    connections: opts.connections,
  });
  return {
    async post(url, headers, body) {
      // headersTimeout/bodyTimeout are idle timers; this caps the whole exchange. A timer cleared
      // when the exchange ends (AbortSignal.timeout's would live on, one per request, until it fires)
      const cap = new AbortController();
      const timer = setTimeout(
        () => cap.abort(new DOMException('the exchange took too long', 'TimeoutError')),
        opts.connectTimeoutMs + opts.responseTimeoutMs,
      );
      try {
        const res = await request(url, {
          method: 'POST',
          headers,
          body,
          dispatcher: agent,
          signal: cap.signal,
        });
        const retryAfter = res.headers['retry-after'];
        if (res.statusCode >= 200 && res.statusCode < 300) {
          // a success's body is not looked at: read past it (the connection is kept)
          await res.body.dump();
          return { status: res.statusCode, retryAfter: undefined, bodyExcerpt: '' };
        }
        const chunks: Buffer[] = [];
        let size = 0;
        for await (const chunk of res.body as AsyncIterable<Buffer>) {
          if (size < EXCERPT_BYTES) chunks.push(chunk);
          size += chunk.length;
        }
        return {
          status: res.statusCode,
          retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter,
          bodyExcerpt: Buffer.concat(chunks).subarray(0, EXCERPT_BYTES).toString('utf8'),
        };
      } catch (err) {
        throw toTransportError(err, opts);
      } finally {
        clearTimeout(timer);
      }
    },
    close: () => agent.close(),
  };
}

function toTransportError(err: unknown, opts: { connectTimeoutMs: number; responseTimeoutMs: number }) {
  const e = err as { code?: string; name?: string; message?: string; cause?: { code?: string } };
  const code = e.code ?? e.cause?.code ?? '';
  if (code === 'UND_ERR_CONNECT_TIMEOUT')
    return new TransportError('timeout', `connect timeout (${opts.connectTimeoutMs} ms)`, { cause: err });
  if (/TIMEOUT/.test(code) || e.name === 'TimeoutError' || e.name === 'AbortError')
    return new TransportError('timeout', `no response within ${opts.responseTimeoutMs} ms`, { cause: err });
  return new TransportError('network', `${code ? `${code}: ` : ''}${e.message ?? String(err)}`, {
    cause: err,
  });
}
