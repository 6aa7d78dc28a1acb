// `pgcdc check` of shaped targets against real servers: the resulting shape is printed per target,
// and each problem is an ERROR naming the key: an unknown column, an expression that does not
// compile, a type mismatch, a transition while the source logs no previous row (REPLICA IDENTITY
// FULL), a match key that is not unique at the target or NOT NULL there.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { stackUrls } from '../support/index.ts';
import { pipelineEnv, query, type PipelineEnv } from '../support/pipeline.ts';
import { configVariant, runCli } from '../support/ops.ts';

const urls = stackUrls();
let env: PipelineEnv;
beforeAll(async () => {
  env = await pipelineEnv(urls, 'shapecheck');
});
afterAll(() => env.drop());

const withTargets = (targets: (peer: string) => unknown[]) =>
  configVariant(env.configFile, (raw) => {
    raw.targets = targets(env.peer.url);
  });

it('prints the shape of a sound mapping', async () => {
  const file = withTargets((url) => [
    {
      name: 'cms',
      type: 'postgres',
      url,
      table: 'fe_users',
      mapping: {
        include: ['email', 'username', 'first_name', 'last_name'],
        rename: { username: 'login' },
        constants: { pid: { value: 7 } },
        computed: { name: 'first_name.orValue("") + " " + last_name.orValue("")' },
        filter: 'is_active && !is_blocked',
        match: { column: 'email', caseInsensitive: true, targetKey: 'uid' },
        deletePolicy: 'soft',
        softDelete: { column: 'deleted_at' },
      },
    },
  ]);
  const r = await runCli(['check', '-c', file]);
  expect(r.code, r.stdout + r.stderr).toBe(0);
  expect(r.stdout).toContain(
    'target cms: columns email text, login text <- username, first_name text, last_name text, pid bigint = 7, name text = first_name.orValue("") + " " + last_name.orValue(""), deleted_at timestamptz (soft delete); key uid (the target\'s own), matched by lower(email); filter is_active && !is_blocked; deletePolicy soft (deleted_at)',
  );
});

it('names every problem of a mapping', async () => {
  await query(
    env.peer.url,
    'CREATE TABLE crm (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email text NOT NULL, nick text)',
  );
  const file = withTargets((url) => [
    {
      name: 'bad',
      type: 'postgres',
      url,
      mapping: {
        include: ['id', 'emial'],
        computed: { full: 'first_name +', n: { expression: 'email', type: 'bigint' } },
      },
    },
    {
      name: 'crm',
      type: 'postgres',
      url,
      table: 'crm',
      mapping: { include: ['email', 'username'], rename: { username: 'nick' }, match: { column: 'email' } },
    },
    {
      name: 'hooks',
      type: 'webhook',
      url: 'http://127.0.0.1:9/hook',
      secret: 'whsec_dGVzdA==',
      mapping: { transitions: { 'user.activated': '!before.is_active && after.is_active' } },
    },
  ]);
  const r = await runCli(['check', '-c', file]);
  expect(r.code).toBe(1);
  expect(r.stdout).toMatch(
    /^ERROR +target\.bad\.shape +target bad: mapping\.include: unknown column "emial"/m,
  );
  expect(r.stdout).toMatch(
    /^ERROR +target\.bad\.shape +target bad: mapping\.computed\.full: does not compile/m,
  );
  expect(r.stdout).toMatch(
    /^ERROR +target\.bad\.shape +target bad: mapping\.computed\.n: type mismatch: the expression is string, the column bigint/m,
  );
  expect(r.stdout).toMatch(/^ERROR +target\.crm\.match +the match key email is not unique at public\.crm/m);
  expect(r.stdout).toMatch(/^ERROR +target\.crm\.match +the match column email at public\.crm is NOT NULL/m);
  expect(r.stdout).toContain('ALTER TABLE "public"."crm" ALTER COLUMN "email" DROP NOT NULL;');
  expect(r.stdout).toMatch(
    /^ERROR +target\.hooks\.shape +target hooks: transitions user\.activated need the previous row, which public\.users does not log \(REPLICA IDENTITY is not FULL\)/m,
  );
  expect(r.stdout).toContain('ALTER TABLE public.users REPLICA IDENTITY FULL;');
});
