// Transport security configuration (pipeline/config/tls.ts, plugged into kafka/registry/source/
// targets): the keys, their defaults and rules, ${file:...} secrets, and the client options built
// from them (pipeline/transport.ts, pipeline/kafka/security.ts, pipeline/postgres.ts).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../../pipeline/config/load.ts';
import { ConfigError } from '../../../../pipeline/errors.ts';
import { kafkaSecurity } from '../../../../pipeline/kafka/security.ts';
import { createPgConnections } from '../../../../pipeline/postgres.ts';
import { insecureSettings, pgSslOptions, registryAccessOf } from '../../../../pipeline/transport.ts';
import { registryAccess, registryClientOptions } from '../../../../schemas/registry-access.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'pgcdc-sec-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, content: string) => {
  const p = path.join(dir, name);
  writeFileSync(p, content);
  return p;
};

const base = (extra: Record<string, unknown> = {}) => ({
  source: { url: 'postgres://app:pw-source-1@db.internal:5432/app' },
  kafka: { brokers: ['kafka.internal:9093'] },
  registry: { url: 'https://registry.internal/apis/ccompat/v7' },
  ...extra,
});

const issues = (raw: unknown) => {
  try {
    parseConfig(raw);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
};

describe('kafka.tls and kafka.sasl', () => {
  it('SASL_SSL with SCRAM: verified TLS by default, password from a file', () => {
    const ca = file('ca.pem', '-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n');
    const pw = file('kafka-pw', 'scram-secret-1\n');
    const cfg = parseConfig(
      base({
        kafka: {
          brokers: ['b1:9093'],
          tls: { caFile: ca, servername: 'kafka.example' },
          sasl: { mechanism: 'scram-sha-512', username: 'pgcdc', passwordFile: pw },
        },
      }),
    );
    expect(cfg.kafka.tls?.rejectUnauthorized).toBe(true);
    const sec = kafkaSecurity(cfg.kafka);
    expect(sec.ssl).toEqual({
      ca: '-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----',
      rejectUnauthorized: true,
      servername: 'kafka.example',
    });
    expect(sec.sasl).toEqual({ mechanism: 'scram-sha-512', username: 'pgcdc', password: 'scram-secret-1' });
  });

  it('refuses a mechanism it does not know, a password given twice or not at all, a cert without key', () => {
    expect(issues(base({ kafka: { brokers: ['b'], sasl: { mechanism: 'gssapi', username: 'u' } } }))).toMatch(
      /kafka\.sasl\.mechanism/,
    );
    expect(
      issues(
        base({
          kafka: {
            brokers: ['b'],
            sasl: { mechanism: 'plain', username: 'u', password: 'x', passwordFile: '/p' },
          },
        }),
      ),
    ).toMatch(/kafka\.sasl\.password: give exactly one of password or passwordFile/);
    expect(
      issues(base({ kafka: { brokers: ['b'], sasl: { mechanism: 'scram-sha-256', username: 'u' } } })),
    ).toMatch(/kafka\.sasl\.password/);
    expect(issues(base({ kafka: { brokers: ['b'], tls: { certFile: '/c' } } }))).toMatch(/kafka\.tls\.key/);
  });

  it('OAUTHBEARER reads its token file at every authentication', async () => {
    const tok = file('token', 'tok-1');
    const cfg = parseConfig(
      base({ kafka: { brokers: ['b'], sasl: { mechanism: 'oauthbearer', tokenFile: tok } } }),
    );
    const sasl = kafkaSecurity(cfg.kafka).sasl as { oauthBearerProvider: () => Promise<{ value: string }> };
    expect(await sasl.oauthBearerProvider()).toEqual({ value: 'tok-1' });
    writeFileSync(tok, 'tok-2\n');
    expect(await sasl.oauthBearerProvider()).toEqual({ value: 'tok-2' });
  });

  it('a missing file is a ConfigError naming the key, never the content', () => {
    const cfg = parseConfig(
      base({
        kafka: { brokers: ['b'], sasl: { mechanism: 'plain', username: 'u', passwordFile: '/nope/pw' } },
      }),
    );
    expect(() => kafkaSecurity(cfg.kafka)).toThrow(
      /kafka\.sasl\.passwordFile: cannot read \/nope\/pw \(ENOENT\)/,
    );
  });
});

describe('${file:...} references', () => {
  it('substitute the file content without its final newline', () => {
    const pw = file('db-pw', 'from-file-pw\n');
    const cfg = parseConfig(base({ source: { url: `postgres://app:\${file:${pw}}@db/app` } }));
    expect(cfg.source.url).toBe('postgres://app:from-file-pw@db/app');
  });
  it('an unreadable file names the key', () => {
    expect(() => parseConfig(base({ source: { url: 'postgres://app:${file:/nope/x}@db/app' } }))).toThrow(
      /config source\.url: cannot read \/nope\/x/,
    );
  });
});

describe('registry.auth and registry.tls', () => {
  it('basic auth becomes an Authorization header; the URL stays clean', () => {
    const cfg = parseConfig(
      base({
        registry: {
          url: 'https://r.example/x/',
          auth: { type: 'basic', username: 'key', password: 'reg-pw-1' },
        },
      }),
    );
    const a = registryAccess(registryAccessOf(cfg.registry));
    expect(a.url).toBe('https://r.example/x');
    expect(a.authorization?.()).toBe(`Basic ${Buffer.from('key:reg-pw-1').toString('base64')}`);
    expect(registryClientOptions(a).middlewares).toHaveLength(1);
  });
  it('bearer token from a file, read at every request', () => {
    const tok = file('reg-token', 'bearer-1');
    const cfg = parseConfig(
      base({ registry: { url: 'https://r', auth: { type: 'bearer', tokenFile: tok } } }),
    );
    const a = registryAccessOf(cfg.registry);
    expect(a.authorization?.()).toBe('Bearer bearer-1');
    writeFileSync(tok, 'bearer-2');
    expect(a.authorization?.()).toBe('Bearer bearer-2');
  });
  it('credentials written into the URL move into the Authorization header', () => {
    const a = registryAccess('http://u:p%40ss@r:8081/apis/ccompat/v7');
    expect(a.url).toBe('http://r:8081/apis/ccompat/v7');
    expect(a.authorization?.()).toBe(`Basic ${Buffer.from('u:p@ss').toString('base64')}`);
  });
  it('a private CA gives the registry client an https agent', () => {
    const ca = file('reg-ca.pem', 'CA');
    const cfg = parseConfig(base({ registry: { url: 'https://r', tls: { caFile: ca } } }));
    expect(registryAccessOf(cfg.registry).tls).toEqual({ ca: 'CA', rejectUnauthorized: true });
    expect(registryClientOptions(registryAccessOf(cfg.registry)).agent).toBeDefined();
  });
});

describe('PostgreSQL tls', () => {
  it('verify-full by default; every connection to that database gets it, others not', () => {
    const ca = file('pg-ca.pem', 'PGCA');
    const cfg = parseConfig(
      base({
        source: { url: 'postgres://app:pw@db.internal:5432/app', tls: { caFile: ca } },
        targets: [{ name: 'peer', type: 'postgres', url: 'postgres://u:p@peer:5432/x' }],
      }),
    );
    expect(cfg.source.tls?.mode).toBe('verify-full');
    const pg = createPgConnections(cfg.connections);
    expect(pg.config('postgres://app:pw@db.internal:5432/app', 'replication', 'a').ssl).toEqual({
      ca: 'PGCA',
      rejectUnauthorized: true,
    });
    expect(pg.config('postgres://u:p@peer:5432/x', 'target', 'a').ssl).toBeUndefined();
  });
  it('verify-ca skips only the host check; no-verify is reported as insecure', () => {
    const ssl = pgSslOptions({ mode: 'verify-ca', ca: 'X' }, 'source.tls');
    expect(ssl.rejectUnauthorized).toBe(true);
    expect(ssl.checkServerIdentity?.('other', {} as never)).toBeUndefined();
    const cfg = parseConfig(base({ source: { url: 'postgres://a@h/d', tls: { mode: 'no-verify' } } }));
    expect(insecureSettings(cfg)).toEqual(['source.tls.mode: no-verify']);
  });
  it('refuses tls beside ssl parameters in the URL (the driver would let the URL win)', () => {
    expect(
      issues(base({ source: { url: 'postgres://a@h/d?sslmode=require', tls: { mode: 'verify-full' } } })),
    ).toMatch(/source\.url: the URL sets TLS itself/);
  });
});

describe('webhook tls', () => {
  it('takes a CA and a client certificate', () => {
    const cfg = parseConfig(
      base({
        targets: [
          {
            name: 'hook',
            type: 'webhook',
            url: 'https://recv.example/hook',
            secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
            tls: { ca: 'CA', cert: 'CERT', key: 'KEY' },
          },
        ],
      }),
    );
    const t = cfg.targets[0];
    expect(t?.type === 'webhook' && t.tls).toEqual({
      ca: 'CA',
      cert: 'CERT',
      key: 'KEY',
      rejectUnauthorized: true,
    });
  });
});
