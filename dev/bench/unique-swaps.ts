// The unique-key swap burst, shared by the bench's swap phase (dev/bench/sink-phases.ts) and the
// correctness test (test/pipeline/unique.int.test.ts): emails swapped between neighbours in one
// source transaction (through a temporary value), and emails released by one user and taken by
// another in the next transaction. On a peer that keeps email unique, the rows of one pair usually
// sit on different partitions, so each swap is a cross-partition secondary-unique conflict that
// the sink must wait out (consumers/group/conflicts.ts) without touching the wrong row.

/** One transaction: the emails of users (i, i + 1) swapped for i = first, first + 2, ... < last. */
export function swapNeighboursSql(first: number, last: number): string {
  return `DO $$ DECLARE i int; a text; b text; BEGIN
      FOR i IN ${first}..${last - 1} BY 2 LOOP
        SELECT email INTO a FROM users WHERE id = i;
        SELECT email INTO b FROM users WHERE id = i + 1;
        UPDATE users SET email = 'tmp-' || i WHERE id = i;
        UPDATE users SET email = a WHERE id = i + 1;
        UPDATE users SET email = b WHERE id = i;
      END LOOP; END $$`;
}

/** Two transactions: `releaser` gives up `email` (a value of its own), then `taker` takes it. */
export function releaseTakeSql(releaser: number, taker: number, email: string): string[] {
  const quoted = `'${email.replace(/'/g, "''")}'`;
  return [
    `UPDATE users SET email = 'moved-${releaser}-' || txid_current() WHERE id = ${releaser}`,
    `UPDATE users SET email = ${quoted} WHERE id = ${taker}`,
  ];
}

/** The users a burst works on: ids 1..users, emails user<id>@x.io. */
export const seedUsersSql = (users: number) =>
  `INSERT INTO users (id, email, username) SELECT i, 'user' || i || '@x.io', 'u' || i FROM generate_series(1, ${users}) i`;

/**
 * The bench's burst on `seedUsersSql(70)`: users 1..30 swapped pairwise three times (one
 * transaction each), then 20 release/take pairs (31 -> 32, 33 -> 34, ...): about 175 events.
 */
export const SWAP_USERS = 70;
/** the events of the burst: 3 x 15 pairs x 3 updates, then 20 x 2 */
export const SWAP_BURST_EVENTS = 3 * 15 * 3 + 20 * 2;
export const swapBurstSql: string[] = [
  ...[0, 1, 2].map(() => swapNeighboursSql(1, 30)),
  ...Array.from({ length: 20 }, (_, k) =>
    releaseTakeSql(31 + 2 * k, 32 + 2 * k, `user${31 + 2 * k}@x.io`),
  ).flat(),
];
