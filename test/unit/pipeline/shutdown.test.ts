// stopWithin: a stop that ends in time is 'stopped'; one that does not is 'abandoned' at the
// deadline, with one error line naming what is left.
import { describe, expect, it, vi } from 'vitest';
import type { Logger } from '../../../pipeline/observability/logger.ts';
import { stopWithin } from '../../../pipeline/supervision/shutdown.ts';

function fakeLogger() {
  const error = vi.fn();
  const warn = vi.fn();
  return { logger: { error, warn } as unknown as Logger, error, warn };
}

describe('stopWithin', () => {
  it('returns stopped when the stop ends before the deadline', async () => {
    const { logger, error } = fakeLogger();
    const out = await stopWithin(() => Promise.resolve(), {
      deadlineMs: 1000,
      logger,
      abandoned: () => ({}),
    });
    expect(out.kind).toBe('stopped');
    expect(error).not.toHaveBeenCalled();
  });

  it('abandons a stop that never ends, at the deadline, logging what is left', async () => {
    const { logger, error } = fakeLogger();
    const out = await stopWithin(() => new Promise<void>(() => undefined), {
      deadlineMs: 30,
      logger,
      abandoned: () => ({ producer: { confirmedLsn: '0/16B3748' } }),
    });
    expect(out.kind).toBe('abandoned');
    expect(error).toHaveBeenCalledTimes(1);
    expect(error.mock.calls[0]![0]).toMatchObject({
      stopTimeoutMs: 30,
      producer: { confirmedLsn: '0/16B3748' },
    });
  });

  it('counts a failed stop as stopped (it ended), with a warning', async () => {
    const { logger, warn } = fakeLogger();
    const out = await stopWithin(() => Promise.reject(new Error('boom')), {
      deadlineMs: 1000,
      logger,
      abandoned: () => ({}),
    });
    expect(out.kind).toBe('stopped');
    expect(warn).toHaveBeenCalledTimes(1);
  });
});
