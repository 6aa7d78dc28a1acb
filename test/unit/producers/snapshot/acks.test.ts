// producers/snapshot/acks.ts: what the chunk loop waits for. An acknowledgement resolves every
// wait at or below it; an outcome that arrives before the loop waits for it is kept; stop()
// rejects every wait (Stopped), so a loop never hangs on a stream that is gone.
import { describe, expect, it } from 'vitest';
import { AckTracker, ClosedChunks, Stopped, Waker } from '../../../../producers/snapshot/acks.ts';
import type { ChunkOutcome } from '../../../../producers/snapshot/window.ts';

const outcome = (chunk: string): ChunkOutcome => ({
  snapshotId: 's',
  chunk,
  highLsn: 100n,
  lowSeen: true,
  emitted: 1,
  dropped: 0,
  requeue: [],
  reread: false,
});

describe('AckTracker', () => {
  it('resolves the waits an acknowledgement covers, in any order, and later waits at once', async () => {
    const acks = new AckTracker();
    const seen: string[] = [];
    const a = acks.until(20n).then(() => seen.push('20'));
    const b = acks.until(10n).then(() => seen.push('10'));
    const c = acks.until(30n).then(() => seen.push('30'));
    acks.acknowledged(25n);
    await Promise.all([a, b]);
    expect(seen.sort()).toEqual(['10', '20']);
    acks.acknowledged(5n); // never goes back
    await acks.until(25n);
    acks.acknowledged(30n);
    await c;
    expect(seen).toContain('30');
  });

  it('stop rejects pending and later waits with Stopped', async () => {
    const acks = new AckTracker();
    const pending = acks.until(10n);
    acks.stop();
    await expect(pending).rejects.toBeInstanceOf(Stopped);
    await expect(acks.until(11n)).rejects.toBeInstanceOf(Stopped);
  });
});

describe('ClosedChunks', () => {
  it('hands over an outcome whether it arrives before or after the wait', async () => {
    const closed = new ClosedChunks();
    closed.onClosed(outcome('0.1'));
    await expect(closed.until('0.1')).resolves.toMatchObject({ chunk: '0.1' });
    const later = closed.until('0.2');
    closed.onClosed(outcome('0.2'));
    await expect(later).resolves.toMatchObject({ chunk: '0.2' });
  });

  it('stop rejects the wait with Stopped', async () => {
    const closed = new ClosedChunks();
    const w = closed.until('0.1');
    closed.stop();
    await expect(w).rejects.toBeInstanceOf(Stopped);
    await expect(closed.until('0.2')).rejects.toBeInstanceOf(Stopped);
  });
});

describe('Waker', () => {
  it('wake ends the nap early', async () => {
    const waker = new Waker();
    const t0 = Date.now();
    const nap = waker.sleep(60_000);
    waker.wake();
    await nap;
    expect(Date.now() - t0).toBeLessThan(5_000);
  });
});
