// What a target's status (/readyz, `pgcdc status`, the status topic) may say about an error: the
// SQLSTATE, constraint, table and column names and the message, never row values (a DETAIL line,
// "Key (email)=(...)", a value quoted in the message); the dead-letter record keeps the full text.
import { describe, expect, it } from 'vitest';
import { fullErrorText, publicError } from '../../../../consumers/group/public-error.ts';
import { PgcdcError, UnavailableError } from '../../../../pipeline/errors.ts';

/** an error as node-postgres raises it */
const pgError = (message: string, fields: Record<string, string>) =>
  Object.assign(new Error(message), { severity: 'ERROR', ...fields });

const unique = pgError('duplicate key value violates unique constraint "users_email_key"', {
  code: '23505',
  detail: 'Key (email)=(alice@example.org) already exists.',
  schema: 'public',
  table: 'users',
  constraint: 'users_email_key',
});

describe('publicError', () => {
  it('names SQLSTATE, constraint and table of a database error, without the DETAIL values', () => {
    const err = new UnavailableError(`target peer: ${unique.message}`, { cause: unique });
    const text = publicError(err);
    expect(text).toBe(
      'target peer: duplicate key value violates unique constraint "users_email_key" (SQLSTATE 23505, constraint users_email_key, table public.users)',
    );
    expect(text).not.toMatch(/alice/);
  });

  it('keeps the fix line', () => {
    const cause = pgError('relation "users" does not exist', { code: '42P01' });
    const err = new PgcdcError(`target peer: ${cause.message}`, { cause, hint: 'create the table' });
    expect(publicError(err)).toBe(
      'target peer: relation "users" does not exist (SQLSTATE 42P01)\n  fix: create the table',
    );
  });

  it.each([
    ['invalid input syntax for type integer: "secret-zip"', 'invalid input syntax for type integer: "…"'],
    ['invalid input value for enum mood: "grumpy"', 'invalid input value for enum mood: "…"'],
    ['value "99999999999" is out of range for type integer', 'value "…" is out of range for type integer'],
    ['malformed array literal: "{1,2"', 'malformed array literal: "…"'],
    [
      'new row for relation "users" violates check constraint "no_reject"\nDETAIL: Failing row contains (1, a@b.io, reject-me).',
      'new row for relation "users" violates check constraint "no_reject"',
    ],
    [
      'insert or update on table "orders" violates foreign key constraint "orders_user_fk" Key (user_id)=(42) is not present in table "users".',
      'insert or update on table "orders" violates foreign key constraint "orders_user_fk" Key (user_id)=(…) is not present in table "users".',
    ],
    [
      '1 event(s) dead-lettered to t.dlq.peer: missing-row: update of "5" carries no value for unchanged column(s) bio',
      '1 event(s) dead-lettered to t.dlq.peer: missing-row: update of "…" carries no value for unchanged column(s) bio',
    ],
    [
      'invalid input syntax for type json\nDETAIL: Token "x" is invalid.\nCONTEXT: JSON data, line 1: x',
      'invalid input syntax for type json',
    ],
  ])('takes the values out of %j', (message, shown) => {
    expect(publicError(new Error(message))).toBe(shown);
  });

  it('leaves texts without values as they are', () => {
    for (const t of [
      'http://127.0.0.1:1/hook answered HTTP 410: this hook is gone for good after 1 attempt(s)',
      'target peer: connect ECONNREFUSED 127.0.0.1:5432',
      'schema registry http://r/apis/ccompat/v7 unavailable: registry answered HTTP 503 to GET /schemas/ids/3',
    ])
      expect(publicError(new Error(t))).toBe(t);
  });
});

describe('fullErrorText', () => {
  it('is the message with SQLSTATE and DETAIL: for the dead-letter record only', () => {
    expect(fullErrorText(unique.message, unique)).toBe(
      'duplicate key value violates unique constraint "users_email_key" (SQLSTATE 23505)\nDETAIL: Key (email)=(alice@example.org) already exists.',
    );
    expect(fullErrorText('as it was', undefined)).toBe('as it was');
  });
});
