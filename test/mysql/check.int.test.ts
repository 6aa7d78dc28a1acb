// `pgcdc check` with a mysql target against the stack's MariaDB: a sound target passes (warning
// about the tables pgcdc will create), and each problem is an ERROR with its fix: wrong password
// (never printed), missing privileges, a table whose columns, key or charset do not fit.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { stackUrls } from '../support/index.ts';
import { randomName } from '../support/names.ts';
import { configVariant, runCli } from '../support/ops.ts';
import { mysqlPipelineEnv, mysqlRows, type MysqlPipelineEnv } from './support.ts';

const urls = stackUrls();
let env: MysqlPipelineEnv;

beforeAll(async () => {
  env = await mysqlPipelineEnv(urls, 'my_check');
});
afterAll(() => env.drop());

const withTargetUrl = (url: string) =>
  configVariant(env.configFile, (raw) => {
    (raw.targets as { url: string }[])[0]!.url = url;
  });
const check = (file: string) => runCli(['check', '-c', file]);

it('passes a sound mysql target and warns about the tables pgcdc will create', async () => {
  const r = await check(env.configFile);
  expect(r.code, r.stdout + r.stderr).toBe(0);
  expect(r.stdout).toMatch(
    /^OK +target\.peer\.connect +connected to mysql:\/\/root@.* \(10\.\d+\.\d+-MariaDB/m,
  );
  expect(r.stdout).toMatch(/^OK +target\.peer\.sql_mode /m);
  expect(r.stdout).toMatch(/^OK +target\.peer\.privileges /m);
  expect(r.stdout).toMatch(
    /^WARN +target\.peer\.table +table users does not exist; pgcdc consume will create it/m,
  );
});

it('a wrong password: error with the fix, the password never shown', async () => {
  const r = await check(withTargetUrl(env.mysql.url.replace('root@', 'root:Wr0ng-pw@')));
  expect(r.code).not.toBe(0);
  expect(r.stdout).toMatch(
    /^ERROR +target\.peer\.connect +target peer: cannot connect to mysql:\/\/root:\*\*\*@/m,
  );
  expect(r.stdout + r.stderr).not.toContain('Wr0ng-pw');
});

it('a user without write privileges: error naming them, with the GRANT', async () => {
  const user = randomName('ro').slice(0, 30);
  await mysqlRows(urls.mariadbAdminUrl, `CREATE USER '${user}'@'%' IDENTIFIED BY 'pw'`);
  try {
    await mysqlRows(urls.mariadbAdminUrl, `GRANT SELECT ON \`${env.mysql.name}\`.* TO '${user}'@'%'`);
    const r = await check(withTargetUrl(env.mysql.url.replace('root@', `${user}:pw@`)));
    expect(r.code).not.toBe(0);
    expect(r.stdout).toMatch(
      new RegExp(
        `^ERROR +target\\.peer\\.privileges +'${user}'@'%' lacks INSERT, UPDATE, DELETE, CREATE`,
        'm',
      ),
    );
    expect(r.stdout).toContain(`GRANT INSERT, UPDATE, DELETE, CREATE ON`);
  } finally {
    await mysqlRows(urls.mariadbAdminUrl, `DROP USER '${user}'@'%'`);
  }
});

it('a table that does not fit: columns, key and charset, each with the fix', async () => {
  await mysqlRows(
    env.mysql.url,
    `CREATE TABLE users (id BIGINT NOT NULL, email VARCHAR(100) CHARACTER SET latin1 NOT NULL, username LONGTEXT NOT NULL,
      balance DOUBLE, created_at DATETIME(6) NOT NULL) CHARACTER SET utf8mb4`,
  );
  try {
    const r = await check(env.configFile);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toMatch(
      /^ERROR +target\.peer\.columns +table users does not fit the events: .*first_name missing/m,
    );
    expect(r.stdout).toMatch(/balance is double, the contract's numeric\(12,2\) needs one of decimal/);
    expect(r.stdout).toMatch(/_pgcdc_lsn missing/);
    expect(r.stdout).toMatch(/primary key is \(none\), the contract's key is \(id\)/);
    expect(r.stdout).toMatch(/ALTER TABLE `users` ADD COLUMN `first_name` LONGTEXT NULL/);
    expect(r.stdout).toMatch(/^ERROR +target\.peer\.charset +columns email \(latin1\) are not utf8mb4/m);
    expect(r.stdout).toContain('CONVERT TO CHARACTER SET utf8mb4');
  } finally {
    await mysqlRows(env.mysql.url, 'DROP TABLE users');
  }
});
