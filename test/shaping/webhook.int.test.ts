// A shaped webhook target on the real stack (issue 16): it receives only the event types it
// declared, transitions (the Standard Webhooks `type`) exactly when the previous and new rows say
// so, nothing it cannot know (no transition while the source logs no previous row), and never the
// password hash the contract marks sensitive.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { DEFAULT_CONTRACT_DIR } from '../../schemas/contract.ts';
import { stackUrls, waitUntil } from '../support/index.ts';
import {
  closeAfterEach,
  delivered,
  SECRET,
  startReceiver,
  targetPipeline,
  type Received,
} from '../support/webhook.ts';

closeAfterEach();

/** The shipped users contract with password_hash marked sensitive. */
function markedContracts(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'pgcdc-contracts-'));
  writeFileSync(
    path.join(dir, 'users-key.avsc'),
    readFileSync(path.join(DEFAULT_CONTRACT_DIR, 'users-key.avsc')),
  );
  const value = readFileSync(path.join(DEFAULT_CONTRACT_DIR, 'users-value.avsc'), 'utf8').replace(
    '{ "name": "password_hash", "type": ["null", "string"], "default": null, "pgType": "text" }',
    '{ "name": "password_hash", "type": ["null", "string"], "default": null, "pgType": "text", "sensitive": true }',
  );
  expect(value).toContain('"sensitive": true');
  writeFileSync(path.join(dir, 'users-value.avsc'), value);
  return dir;
}

it('a webhook gets only its event types, transitions only when known, never the password hash', async () => {
  const receiver = await startReceiver(() => ({ status: 200 }));
  const p = await targetPipeline(
    stackUrls(),
    'wh_shape',
    {
      name: 'hooks',
      type: 'webhook',
      url: receiver.url,
      secret: SECRET,
      mapping: {
        transitions: {
          'user.activated': '!before.is_active && after.is_active',
          'user.blocked': '!before.is_blocked && after.is_blocked',
          'user.email_changed': 'before.email != after.email',
        },
        events: ['created', 'deleted', 'user.activated', 'user.blocked', 'user.email_changed'],
      },
    },
    { contracts: markedContracts() },
  );
  await p.startConsumer();
  const ins = (email: string) =>
    p
      .sql(
        "INSERT INTO users (email, username, is_active, password_hash) VALUES ($1, 'u', false, 'secret-hash') RETURNING id::text AS id",
        [email],
      )
      .then((r) => (r.rows[0] as { id: string }).id);
  const of = (id: string) => delivered(receiver).filter((r: Received) => String(r.body.key.id) === id);

  // REPLICA IDENTITY DEFAULT: the previous row is unknown, so no transition is emitted
  const early = await ins('early@x.io');
  await p.sql('UPDATE users SET is_active = true WHERE id = $1', [early]);
  await p.sql('DELETE FROM users WHERE id = $1', [early]);
  await waitUntil(() => of(early).length === 2, {
    what: 'created and deleted of the early user',
    timeoutMs: 60_000,
  });
  expect(of(early).map((r) => r.body.type)).toEqual(['created', 'deleted']);

  await p.sql('ALTER TABLE users REPLICA IDENTITY FULL');
  const user = await ins('ada@x.io');
  await p.sql("UPDATE users SET city = 'Oslo' WHERE id = $1", [user]); // updated: not asked for
  await p.sql('UPDATE users SET is_active = true WHERE id = $1', [user]);
  await p.sql("UPDATE users SET is_blocked = true, email = 'ada2@x.io' WHERE id = $1", [user]);
  await p.sql('DELETE FROM users WHERE id = $1', [user]);
  await waitUntil(() => of(user).length === 5, { what: 'five events of the user', timeoutMs: 60_000 });
  const got = of(user);
  expect(got.map((r) => r.body.type)).toEqual([
    'created',
    'user.activated',
    'user.blocked',
    'user.email_changed',
    'deleted',
  ]);
  const changed = got[3]!.body;
  expect([changed.before?.email, changed.after?.email]).toEqual(['ada@x.io', 'ada2@x.io']);
  expect(new Set(got.map((r) => r.headers['webhook-id'])).size).toBe(5);
  for (const r of delivered(receiver)) {
    expect(r.rawBody).not.toContain('password_hash');
    expect(r.rawBody).not.toContain('secret-hash');
  }
}, 180_000);
