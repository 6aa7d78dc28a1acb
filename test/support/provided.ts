// Types of the values test/global-setup.ts provides to integration tests (vitest provide/inject).
// Type-only on purpose: the global setup runs outside the test workers and must not load `vitest`.
import type { StackUrls } from '../../dev/stack/settings.ts';

declare module 'vitest' {
  interface ProvidedContext {
    /** The running stack's URLs; provided for the `integration` project only. */
    stackUrls: StackUrls;
  }
}

export type { StackUrls };
