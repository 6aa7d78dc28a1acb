// The one classification of schema-registry failures: only the registry's definite "no schema with
// this id" (HTTP 404 + error code 40403) makes an event undecodable; an incompatible or invalid
// schema refuses a registration; everything else (5xx, 401/403, 429, timeouts, refused
// connections, a proxy's HTML page, any other 404) is trouble that passes: retry, never dead-letter.
import { ConfluentSchemaRegistryCompatibilityError } from '@kafkajs/confluent-schema-registry/dist/errors.js';
import { describe, expect, it } from 'vitest';
import { classifyRegistryFailure, RegistryHttpError, registryHttpError } from '../../../schemas/registry.ts';

const http = (status: number, body: string, contentType = 'application/json') =>
  registryHttpError(new Response(body, { status, headers: { 'content-type': contentType } }), 'GET /x');

describe('classifyRegistryFailure', () => {
  it.each([
    ['404 + 40403', 404, '{"error_code":40403,"message":"Schema 7 not found"}', 'unknown-id'],
    ['404 + 40401 (subject)', 404, '{"error_code":40401,"message":"Subject not found"}', 'unavailable'],
    ['404 HTML (wrong URL, proxy)', 404, '<html><body>Not Found</body></html>', 'unavailable'],
    ['409 incompatible', 409, '{"error_code":409,"message":"incompatible"}', 'refused'],
    ['422 invalid schema', 422, '{"error_code":42201,"message":"invalid schema"}', 'refused'],
    ['500', 500, '{"error_code":50001,"message":"store error"}', 'unavailable'],
    ['502 HTML from a proxy', 502, '<html>Bad Gateway</html>', 'unavailable'],
    ['503', 503, '', 'unavailable'],
    ['401', 401, '{"error_code":401,"message":"Unauthorized"}', 'unavailable'],
    ['403', 403, '{"message":"Forbidden"}', 'unavailable'],
    ['429', 429, 'slow down', 'unavailable'],
    ['400', 400, '{"message":"bad"}', 'unavailable'],
  ] as const)('HTTP %s', async (_what, status, body, verdict) => {
    const err = await http(status, body, body.startsWith('{') ? 'application/json' : 'text/html');
    expect(err).toBeInstanceOf(RegistryHttpError);
    expect(classifyRegistryFailure(err)).toBe(verdict);
  });

  it('a 200 that is not JSON (a login page) is trouble, not a verdict', async () => {
    expect(classifyRegistryFailure(await http(200, '<html>login</html>', 'text/html'))).toBe('unavailable');
  });

  it('network trouble and timeouts pass', () => {
    const refused = Object.assign(new TypeError('fetch failed'), {
      cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
    });
    expect(classifyRegistryFailure(refused)).toBe('unavailable');
    expect(
      classifyRegistryFailure(new DOMException('The operation was aborted due to timeout', 'TimeoutError')),
    ).toBe('unavailable');
    expect(classifyRegistryFailure(new Error('socket hang up'))).toBe('unavailable');
  });

  it("the schema-registry client's HTTP errors are judged by their status", () => {
    const responseError = (status: number) =>
      Object.assign(new Error(`pgcdc - status ${status}`), { name: 'ResponseError', status });
    expect(classifyRegistryFailure(responseError(503))).toBe('unavailable');
    // mappersmith reports a refused connection as status 400
    expect(classifyRegistryFailure(responseError(400))).toBe('unavailable');
    expect(classifyRegistryFailure(responseError(409))).toBe('refused');
    expect(classifyRegistryFailure(responseError(422))).toBe('refused');
  });

  it("the client's own verdicts (a subject's compatibility mismatch) refuse", () => {
    expect(classifyRegistryFailure(new ConfluentSchemaRegistryCompatibilityError('BACKWARD != NONE'))).toBe(
      'refused',
    );
  });
});

describe('registryHttpError', () => {
  it("keeps the registry's message and error code, and names the request", async () => {
    const err = await http(404, '{"error_code":40403,"message":"Schema 7 not found"}');
    expect(err.status).toBe(404);
    expect(err.errorCode).toBe(40403);
    expect(err.message).toBe('registry answered HTTP 404 (error code 40403: Schema 7 not found) to GET /x');
  });

  it('says what kind of page came back when it is not JSON, without copying it', async () => {
    const err = await http(502, `<html>${'x'.repeat(5000)}</html>`, 'text/html; charset=utf-8');
    expect(err.message).toBe(
      'registry answered HTTP 502 (a text/html page, not the registry: a proxy?) to GET /x',
    );
  });
});
