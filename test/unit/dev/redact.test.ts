// What the development tools print (demo, bench, stack) never carries a password.
import { describe, expect, it } from 'vitest';
import { stackUrlLines } from '../../../dev/cli/commands/stack.ts';
import { redactSecrets } from '../../../dev/redact.ts';

describe('redactSecrets', () => {
  it.each([
    [
      'make changes with: psql postgres://app:s3cret@db.example:5432/shop',
      'make changes with: psql postgres://app:***@db.example:5432/shop',
    ],
    ['postgresql://u:p%40ss@h/db?sslmode=require', 'postgresql://u:***@h/db?sslmode=require'],
    [
      'target "peer" (postgres://a:b@h/x) and http://k:v@reg:8081/apis',
      'target "peer" (postgres://a:***@h/x) and http://k:***@reg:8081/apis',
    ],
    ['host=db user=app password=s3cret dbname=shop', 'host=db user=app password=*** dbname=shop'],
    ["host=db password='s3 cret' dbname=shop", 'host=db password=*** dbname=shop'],
  ])('%s', (text, expected) => {
    expect(redactSecrets(text)).toBe(expected);
  });

  it.each([
    'postgres://postgres@127.0.0.1:54321/pgcdc',
    'http://127.0.0.1:18081/apis/ccompat/v7',
    'kafka: 127.0.0.1:19092',
    'wrote 5000 changes in 1.2 s',
  ])('leaves text without secrets alone: %s', (text) => {
    expect(redactSecrets(text)).toBe(text);
  });
});

describe('pgcdc-dev stack up', () => {
  it('prints the stack URLs without their passwords', () => {
    const lines = stackUrlLines({
      sourceUrl: 'postgres://postgres:hunter2@127.0.0.1:5432/pgcdc',
      peerUrl: 'postgres://postgres:hunter2@127.0.0.1:5432/pgcdc_peer',
      adminUrl: 'postgres://postgres:hunter2@127.0.0.1:5432/postgres',
      kafkaBrokers: ['127.0.0.1:9092'],
      registryUrl: 'http://127.0.0.1:8081/apis/ccompat/v7',
      mysqlPeerUrl: 'mysql://root:hunter2@127.0.0.1:3306/pgcdc_peer',
      mariadbAdminUrl: 'mysql://root:hunter2@127.0.0.1:3306/',
    });
    expect(lines.join('\n')).not.toContain('hunter2');
    expect(lines[0]).toBe('postgres (source): postgres://postgres:***@127.0.0.1:5432/pgcdc');
  });
});
