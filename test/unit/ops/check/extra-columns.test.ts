// `pgcdc check` on source columns outside the contract (ops/check/source.ts extraNote): pinned
// mode does not capture them; automatic mode captures the nullable ones (an evolved contract
// version) and never a NOT NULL one (docs/contracts.md, Schema changes).
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../../pipeline/config/load.ts';
import { extraNote } from '../../../../ops/check/source.ts';
import type { PgColumn } from '../../../../ops/check/columns.ts';

const col = (name: string, notNull = false): PgColumn => ({ name, type: 'text', notNull, hasDefault: false });
const source = (schemaChanges: string) =>
  parseConfig({
    source: { url: 'postgres://u@h/db', schemaChanges },
    kafka: { brokers: ['k:9092'] },
    registry: { url: 'http://r' },
    targets: [],
  }).source;

describe('check: source columns outside the contract', () => {
  it('says nothing when there are none', () => {
    expect(extraNote(source('pinned'), 'public.users', [])).toBe('');
  });

  it('pinned: not captured, with the fix', () => {
    expect(extraNote(source('pinned'), 'public.users', [col('nick'), col('code', true)])).toBe(
      ' (not captured: nick, code; to capture them: pgcdc contract generate --force --table public.users, review)',
    );
  });

  it('automatic: nullable ones captured as an evolved version, NOT NULL ones not', () => {
    const note = extraNote(source('automatic'), 'public.users', [col('nick'), col('code', true)]);
    expect(note).toContain('captured by automatic schema changes as an evolved contract version: nick;');
    expect(note).toContain('to pin them: pgcdc contract generate --force --table public.users, review');
    expect(note).toContain('not captured, NOT NULL is not a BACKWARD-compatible addition: code');
    expect(extraNote(source('automatic'), 'public.users', [col('nick')])).not.toContain('not captured');
  });
});
