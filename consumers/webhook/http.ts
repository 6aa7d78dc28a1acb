// The webhook sink's only I/O: one POST, with a connect timeout and a response timeout, through a
// keep-alive undici pool (its dispatch API: the fewest objects per request) (with the target's TLS: its CA, its client certificate). A failure to get an answer is a `TransportError` (timeout or network);
// an answer of any status is a `WebhookResponse`. The sink never sees undici types.
import { Agent, type Dispatcher } from 'undici';

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
/** A success's body is read past up to this many bytes (as undici's dump()), then the connection goes. */
const DUMP_BYTES = 128 * 1024;

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
  const capMs = opts.connectTimeoutMs + opts.responseTimeoutMs;
  // the target's one URL, split once (origin, path and query)
  let last: { url: string; origin: string; path: string } | undefined;
  const split = (url: string) => {
    if (last?.url !== url) {
      const u = new URL(url);
      last = { url, origin: u.origin, path: `${u.pathname}${u.search}` };
    }
    return last;
  };
  return {
    post(url, headers, body) {
      const { origin, path } = split(url);
      return new Promise<WebhookResponse>((resolve, reject) => {
        // undici's dispatch API: no response stream, no AbortSignal per request. headersTimeout and
        // bodyTimeout are idle timers; this timer caps the whole exchange (it aborts the request).
        let abort: ((err: Error) => void) | undefined;
        let overdue: Error | undefined;
        const timer = setTimeout(() => {
          overdue = new DOMException('the exchange took too long', 'TimeoutError');
          abort?.(overdue);
        }, capMs);
        let status = 0;
        let retryAfter: string | undefined;
        const chunks: Buffer[] = [];
        let size = 0;
        let settled = false;
        const accepted = () => status >= 200 && status < 300;
        /** the answer, or (none) the failure to get one */
        const settle = (err?: unknown) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          // once a success's status is in, the rest of its body does not matter (read past, up to
          // DUMP_BYTES; a failure on the way is not the delivery's)
          if (accepted()) resolve({ status, retryAfter: undefined, bodyExcerpt: '' });
          else if (err === undefined)
            resolve({
              status,
              retryAfter,
              bodyExcerpt: Buffer.concat(chunks).subarray(0, EXCERPT_BYTES).toString('utf8'),
            });
          else reject(toTransportError(err, opts));
        };
        const handler: Dispatcher.DispatchHandlers = {
          onConnect(a) {
            abort = a;
            if (overdue) a(overdue);
          },
          onHeaders(statusCode, raw) {
            if (statusCode < 200) return true; // 1xx: informational, the answer follows
            status = statusCode;
            if (statusCode >= 300) retryAfter = headerValue(raw, 'retry-after');
            return true;
          },
          onData(chunk) {
            size += chunk.length;
            if (!accepted()) {
              if (size - chunk.length < EXCERPT_BYTES) chunks.push(chunk);
            } else if (size > DUMP_BYTES) {
              settle(); // a success's long body: not read to its end (the connection goes)
              abort?.(new Error('response body not read past 128 KiB'));
            }
            return true;
          },
          onComplete: () => settle(),
          onError: (err) => settle(err),
        };
        try {
          agent.dispatch({ origin, path, method: 'POST', headers, body }, handler);
        } catch (err) {
          settle(err);
        }
      });
    },
    close: () => agent.close(),
  };
}

/** The first value of a header in undici's raw list ([name, value, name, value, ...]). */
function headerValue(raw: Buffer[] | string[] | null, name: string): string | undefined {
  if (!raw) return undefined;
  for (let i = 0; i + 1 < raw.length; i += 2)
    if (raw[i]!.toString().toLowerCase() === name) return raw[i + 1]!.toString();
  return undefined;
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
