// The snapshot feeds of several tables as one feed (docs/tables.md). Each captured table has its
// own feed (runner.ts): its checkpoint row (slot, table), its chunk loop, its watermark window.
// A stream item goes through the feeds one after the other; a feed passes other tables' events,
// and other snapshots' watermarks, through untouched, so each table's `op = r` rows are placed in
// the stream by its own watermarks. Kafka's acknowledgements reach every feed.
import type { SnapshotFeed, SnapshotFeedState } from './runner.ts';

export function combineSnapshotFeeds(feeds: SnapshotFeed[]): SnapshotFeed {
  if (feeds.length === 1) return feeds[0]!;
  return {
    gate(item) {
      const waits = feeds.map((f) => f.gate(item)).filter((w) => w !== undefined);
      return waits.length === 0 ? undefined : Promise.all(waits);
    },
    process(item) {
      let items = [item];
      for (const feed of feeds) items = items.flatMap((i) => feed.process(i));
      return items;
    },
    acknowledged(lsn) {
      for (const feed of feeds) feed.acknowledged(lsn);
    },
    async run() {
      // the first failure fails the run (the producer restarts the session; each feed resumes)
      await Promise.all(feeds.map((f) => f.run()));
    },
    async stop() {
      await Promise.all(feeds.map((f) => f.stop()));
    },
    evolve(contract) {
      for (const feed of feeds) feed.evolve(contract);
    },
    mayBeUnread(key, table) {
      return feeds.some((f) => f.mayBeUnread(key, table));
    },
    state(): SnapshotFeedState {
      // the table being fed now (the first running one); progress per table is in the checkpoint
      const states = feeds.map((f) => f.state());
      return states.find((s) => s.snapshotId !== undefined) ?? states[0]!;
    },
  };
}
