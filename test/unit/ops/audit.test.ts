import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { audit, AuditSummary } from '../../../pipeline/observability/audit.ts';
import { createLogger, redactUrl } from '../../../pipeline/observability/logger.ts';

function fileLogger(level = 'debug') {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'pgcdc-audit-')), 'sub', 'pgcdc.log');
  const logger = createLogger({ level, file });
  const lines = () =>
    readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { logger, lines };
}

it('audit lines have a fixed shape, go to --log-file, and respect the level', () => {
  const { logger, lines } = fileLogger('info');
  const child = logger.child({ component: 'consumer', target: 'peer' });
  audit(
    child,
    'debug',
    { kind: 'apply', target: 'peer', status: 'ok', counts: { applied: 1 }, durationMs: 1 },
    'x',
  );
  audit(
    child,
    'info',
    {
      kind: 'apply',
      target: 'peer',
      status: 'partial',
      counts: { applied: 2, deadLettered: 1 },
      durationMs: 3,
    },
    'applied chunk',
  );
  const [line, ...rest] = lines();
  expect(rest).toEqual([]);
  expect(line).toMatchObject({
    audit: true,
    kind: 'apply',
    target: 'peer',
    status: 'partial',
    counts: { applied: 2, deadLettered: 1 },
    durationMs: 3,
    msg: 'applied chunk',
  });
});

it('a summary is emitted per interval, and not when idle', () => {
  let now = 1000;
  const { logger, lines } = fileLogger();
  const s = new AuditSummary(logger, { kind: 'stream' }, () => now);
  s.flush();
  s.add({ events: 3, transactions: 1 }, 5);
  s.add({ events: 2 }, 1);
  s.failed('kafka away');
  now = 3000;
  s.flush({ confirmedLsn: '0/10' });
  now = 5000;
  s.flush();
  expect(lines()).toEqual([
    expect.objectContaining({
      audit: true,
      kind: 'stream',
      status: 'partial',
      counts: { events: 5, transactions: 1, errors: 1 },
      durationMs: 6,
      intervalMs: 2000,
      error: 'kafka away',
      confirmedLsn: '0/10',
    }),
  ]);
});

it('URLs are logged without their password', () => {
  expect(redactUrl('postgres://app:s3cret@db:5432/x')).toBe('postgres://app:***@db:5432/x');
  expect(redactUrl('http://u:p%40ss@registry:8081/apis')).not.toContain('p%40ss');
  expect(redactUrl('not a url://u:secret@h')).not.toContain('secret');
});
