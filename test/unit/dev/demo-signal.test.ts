// `pgcdc-dev demo --keep-running` stops on SIGTERM as on Ctrl-C (SIGINT): either signal ends the
// wait, after which the demo stops the pipeline and the stack parts it started.
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { stopSignal } from '../../../dev/cli/commands/demo.ts';

const fakeProcess = () => new EventEmitter() as unknown as NodeJS.Process & EventEmitter;

describe('demo stopSignal', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)('resolves on %s and removes both listeners', async (sig) => {
    const proc = fakeProcess();
    const waiting = stopSignal(proc);
    expect(proc.listenerCount('SIGINT') + proc.listenerCount('SIGTERM')).toBe(2);
    proc.emit(sig);
    await expect(waiting).resolves.toBe(sig);
    expect(proc.listenerCount('SIGINT') + proc.listenerCount('SIGTERM')).toBe(0);
  });
});
