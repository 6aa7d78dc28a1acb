// Helpers shared by integration tests (*.int.test.ts). Typical use:
//
//   const { adminUrl, kafkaBrokers, registryUrl } = stackUrls();
//   const db = await freshDatabase(adminUrl, 'snapshot', { usersTable: true });
//   afterAll(() => db.drop());
//   const topic = randomName('users');
//   await waitUntil(async () => (await countUsers(db.url)) === 3, { what: 'three rows' });
//
// Every test uses its own database, topics, groups and slots, and waits on conditions, never sleeps.
// Every await has a deadline (withDeadline; the helpers here bound their own waits), and what a
// test starts it registers with cleanupAfterEach, so a hang fails fast and names what hung.
export { cleanupAfterEach, type Cleanups } from './cleanup.ts';
export { freshDatabase, withClient, type FreshDatabase, type FreshDatabaseOptions } from './database.ts';
export { DeadlineError, withDeadline } from './deadline.ts';
export { randomName } from './names.ts';
export { stackUrls, type StackUrls } from './stack.ts';
export { waitUntil, type WaitOptions } from './wait.ts';
