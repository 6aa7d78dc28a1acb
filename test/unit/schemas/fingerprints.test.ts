// The .avsc files are the wire contract. Their fingerprints are pinned so that a breaking change
// cannot slip through: changing a pinned value must be a deliberate act.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { avroType } from '../../../schemas/avro.ts';
import { loadContract, rowRecordOf, type AvroField } from '../../../schemas/contract.ts';

const contract = loadContract();

// Changing this is a deliberate contract change: bump and check registry compatibility.
const PINNED_SHA256 = {
  'users-key.avsc': '1b5ef667bf05bce6f26b847073dd48b537017e9c159a475dd18ad768c7303cf2',
  // re-pinned for op `t` (truncate, issue 14 item 17), a symbol added at the END of the Operation
  // enum: BACKWARD compatible (the new reader reads every old event); an old reader cannot read a
  // truncate event, so consumers are upgraded before producers (README: Event format).
  'users-value.avsc': '4207d070ca87331918f40a93cb58c556699c5f34e6f1d056033500b150c66fa6',
};

describe('Avro schema fingerprints', () => {
  it.each([
    ['users-key.avsc', contract.keySchema],
    ['users-value.avsc', contract.valueSchema],
  ] as const)('%s: sha256 of the parsing canonical form is pinned', (file, schema) => {
    const type = avroType(schema);
    const canonical = JSON.stringify(type.schema()); // full names, no doc/default/custom attributes
    expect(canonical).not.toMatch(/"doc"|"pgType"|"default"/);
    const sha = createHash('sha256').update(canonical).digest('hex');
    expect(type.fingerprint('sha256').toString('hex')).toBe(sha);
    // Changing this is a deliberate contract change: bump and check registry compatibility.
    expect(sha).toBe(PINNED_SHA256[file]);
  });

  // The canonical form ignores attributes the pipeline relies on: the PostgreSQL type of each
  // column (DDL and value decoding), logical types and defaults (registry BACKWARD compatibility).
  it('pins what the canonical form leaves out: pgType, logicalType, defaults of the row', () => {
    const describeField = (f: AvroField) => {
      const types = Array.isArray(f.type) ? (f.type as unknown[]) : [f.type];
      const logical = types
        .map((t) => (t as { logicalType?: string } | null)?.logicalType)
        .find((l) => l !== undefined);
      return [f.name, f.pgType, logical ?? null, 'default' in f ? f.default : 'required'];
    };
    // Changing this is a deliberate contract change: bump and check registry compatibility.
    expect(rowRecordOf(contract.valueSchema).fields.map(describeField)).toEqual([
      ['id', 'bigint', null, 'required'],
      ['email', 'text', null, 'required'],
      ['username', 'text', null, 'required'],
      ['first_name', 'text', null, null],
      ['middle_name', 'text', null, null],
      ['last_name', 'text', null, null],
      ['password_hash', 'text', null, null],
      ['phone', 'text', null, null],
      ['company', 'text', null, null],
      ['address', 'text', null, null],
      ['zip', 'text', null, null],
      ['city', 'text', null, null],
      ['country', 'text', null, null],
      ['is_active', 'boolean', null, 'required'],
      ['is_blocked', 'boolean', null, 'required'],
      ['bio', 'text', null, null],
      ['preferences', 'jsonb', null, null],
      ['tags', 'text[]', null, null],
      ['balance', 'numeric(12,2)', null, null],
      ['created_at', 'timestamptz', 'timestamp-micros', 'required'],
      ['updated_at', 'timestamptz', 'timestamp-micros', 'required'],
      ['last_login_at', 'timestamptz', 'timestamp-micros', null],
    ]);
    expect(contract.keySchema.fields.map(describeField)).toEqual([['id', 'bigint', null, 'required']]);
    expect(contract.keyColumns).toEqual(['id']);
  });

  it('envelope fields and their defaults', () => {
    // Changing this is a deliberate contract change: bump and check registry compatibility.
    expect(contract.valueSchema.fields.map((f) => [f.name, 'default' in f ? f.default : 'required'])).toEqual(
      [
        ['before', null],
        ['after', null],
        ['unchanged', []],
        ['source', 'required'],
        ['op', 'required'],
        ['ts_ms', 'required'],
        ['event_id', 'required'],
      ],
    );
  });
});
