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

/** The users a burst works on: ids first..first + users - 1, emails user<id>@x.io. */
export const seedUsersSql = (users: number, first = 1) =>
  `INSERT INTO users (id, email, username) SELECT i, 'user' || i || '@x.io', 'u' || i FROM generate_series(${first}, ${first + users - 1}) i`;

/**
 * The bench's burst on `seedUsersSql(70)`: users 1..30 swapped pairwise three times (one
 * transaction each), then 20 release/take pairs (31 -> 32, 33 -> 34, ...): about 175 events.
 */
export const SWAP_USERS = 70;
/** the events of the burst: 3 x 15 pairs x 3 updates, then 20 x 2 */
export const SWAP_BURST_EVENTS = 3 * 15 * 3 + 20 * 2;
/** The burst on `seedUsersSql(SWAP_USERS, offset + 1)`: the same conflicts on ids shifted by `offset`. */
export function swapBurstSqlAt(offset: number): string[] {
  const id = (n: number) => offset + n;
  return [
    ...[0, 1, 2].map(() => swapNeighboursSql(id(1), id(30))),
    ...Array.from({ length: 20 }, (_, k) =>
      releaseTakeSql(id(31 + 2 * k), id(32 + 2 * k), `user${id(31 + 2 * k)}@x.io`),
    ).flat(),
  ];
}
export const swapBurstSql: string[] = swapBurstSqlAt(0);
