// consumers/postgres/errors.ts: SQLSTATE -> what the sink does (retry, wait for the operator,
// retry later after other partitions, dead-letter).
import { describe, expect, it } from 'vitest';
import { classifyPgError, type PgErrorClass } from '../../../../consumers/postgres/errors.ts';

const PK = 'users_pkey';

describe('classifyPgError', () => {
  it.each<[string, { code?: string; constraint?: string; syscall?: string }, PgErrorClass]>([
    ['no SQLSTATE (socket closed, timeout)', {}, 'transient'],
    ['empty SQLSTATE', { code: '' }, 'transient'],
    ['socket reset mid-query (read ECONNRESET)', { code: 'ECONNRESET', syscall: 'read' }, 'transient'],
    ['broken pipe (a 5-letter system code)', { code: 'EPIPE', syscall: 'write' }, 'transient'],
    ['connect timeout', { code: 'ETIMEDOUT', syscall: 'connect' }, 'transient'],
    ['a system code without syscall', { code: 'ECONNREFUSED' }, 'transient'],
    ['08006 connection_failure', { code: '08006' }, 'transient'],
    ['08P01 protocol_violation', { code: '08P01' }, 'transient'],
    ['53300 too_many_connections', { code: '53300' }, 'transient'],
    ['53100 disk_full', { code: '53100' }, 'transient'],
    ['57P01 admin_shutdown', { code: '57P01' }, 'transient'],
    ['57014 query_canceled (statement timeout)', { code: '57014' }, 'transient'],
    ['58030 io_error', { code: '58030' }, 'transient'],
    ['40001 serialization_failure', { code: '40001' }, 'transient'],
    ['40P01 deadlock_detected', { code: '40P01' }, 'transient'],
    ['55P03 lock_not_available', { code: '55P03' }, 'transient'],
    ['42P01 undefined_table', { code: '42P01' }, 'blocking'],
    ['42703 undefined_column', { code: '42703' }, 'blocking'],
    ['42501 insufficient_privilege', { code: '42501' }, 'blocking'],
    ['42804 datatype_mismatch', { code: '42804' }, 'blocking'],
    ['3F000 invalid_schema_name', { code: '3F000' }, 'blocking'],
    ['28P01 invalid_password', { code: '28P01' }, 'blocking'],
    ['0A000 feature_not_supported', { code: '0A000' }, 'blocking'],
    ['25006 read_only_sql_transaction (standby)', { code: '25006' }, 'blocking'],
    ['XX000 internal_error', { code: 'XX000' }, 'blocking'],
    [
      '23505 on a secondary unique constraint',
      { code: '23505', constraint: 'users_email_key' },
      'secondary-unique',
    ],
    ['23505 on the primary key (concurrent insert)', { code: '23505', constraint: PK }, 'transient'],
    ['23505 without a constraint name', { code: '23505' }, 'transient'],
    ['23502 not_null_violation', { code: '23502' }, 'rejected'],
    ['23514 check_violation', { code: '23514', constraint: 'users_balance_check' }, 'rejected'],
    ['23503 foreign_key_violation', { code: '23503', constraint: 'fk' }, 'rejected'],
    ['22P02 invalid_text_representation', { code: '22P02' }, 'rejected'],
    ['22003 numeric_value_out_of_range', { code: '22003' }, 'rejected'],
    ['22001 string_data_right_truncation', { code: '22001' }, 'rejected'],
    ['22008 datetime_field_overflow', { code: '22008' }, 'rejected'],
  ])('%s -> %s', (_what, fields, expected) => {
    const err = Object.assign(new Error('boom'), fields);
    expect(classifyPgError(err, PK)).toBe(expected);
  });
});
