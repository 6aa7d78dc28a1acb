// `pgcdc check` of a matched, soft-deleting MariaDB target (issue 16): the resulting shape is
// printed as for a Postgres target; a table fit for it (AUTO_INCREMENT uid, unique email with a
// case-insensitive collation) passes; one whose email is not unique, NOT NULL, or compares case-sensitively
// while the mapping asks for caseInsensitive, is an ERROR naming the fix.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freshMysqlDatabase, withMysql, type MysqlDatabase } from '../mysql/support.ts';
import { stackUrls } from '../support/index.ts';
import { configVariant, runCli } from '../support/ops.ts';
import { pipelineEnv, type PipelineEnv } from '../support/pipeline.ts';

const urls = stackUrls();
let env: PipelineEnv;
let db: MysqlDatabase;
beforeAll(async () => {
  env = await pipelineEnv(urls, 'myshapecheck');
  db = await freshMysqlDatabase(urls, 'my_check');
  await withMysql(db.url, async (c) => {
    await c.query(`CREATE TABLE fe_users (uid INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
      email VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NULL, login VARCHAR(255) NULL,
      deleted BOOLEAN NOT NULL DEFAULT FALSE, UNIQUE KEY fe_users_email (email)) DEFAULT CHARSET=utf8mb4`);
    await c.query(`CREATE TABLE crm (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
      email VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL, login VARCHAR(255) NULL,
      deleted BOOLEAN NOT NULL DEFAULT FALSE, KEY crm_email (email)) DEFAULT CHARSET=utf8mb4`);
  });
});
afterAll(async () => {
  await env.drop();
  await db.drop();
});

const cms = (table: string) => ({
  name: table === 'fe_users' ? 'cms' : 'crm',
  type: 'mysql',
  url: db.url,
  table,
  mapping: {
    include: ['email', 'username'],
    rename: { username: 'login' },
    filter: 'is_active && !is_blocked',
    match: { column: 'email', caseInsensitive: true, targetKey: table === 'fe_users' ? 'uid' : 'id' },
    deletePolicy: 'soft',
    softDelete: { column: 'deleted', type: 'boolean' },
  },
});

it('prints the shape of a matched MariaDB target and passes a table fit for it', async () => {
  const file = configVariant(env.configFile, (raw) => {
    raw.targets = [cms('fe_users')];
  });
  const r = await runCli(['check', '-c', file]);
  expect(r.code, r.stdout + r.stderr).toBe(0);
  expect(r.stdout).toContain(
    "target cms: columns email text, login text <- username, deleted boolean (soft delete); key uid (the target's own), matched by lower(email); filter is_active && !is_blocked; deletePolicy soft (deleted)",
  );
  expect(r.stdout).toMatch(
    /^OK +target\.cms\.match +email is unique at fe_users \(case-insensitive collation\)/m,
  );
}, 120_000);

it('names a match key that is not unique or NOT NULL, and a case-sensitive collation for caseInsensitive', async () => {
  const file = configVariant(env.configFile, (raw) => {
    raw.targets = [cms('crm')];
  });
  const r = await runCli(['check', '-c', file]);
  expect(r.code).toBe(1);
  expect(r.stdout).toMatch(/^ERROR +target\.crm\.match +the match key email is not unique at crm/m);
  expect(r.stdout).toMatch(/^ERROR +target\.crm\.match +the match column email at crm is NOT NULL/m);
  // the fix keeps the column's type and collation
  expect(r.stdout).toContain('ALTER TABLE `crm` MODIFY `email` varchar(255) COLLATE utf8mb4_bin NULL;');
  expect(r.stdout).toMatch(
    /^ERROR +target\.crm\.match +table crm: caseInsensitive needs a case-insensitive collation on email \(it is utf8mb4_bin\)/m,
  );
}, 120_000);
