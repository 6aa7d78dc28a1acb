// The running stack's URLs, handed from the global setup (test/global-setup.ts) to every
// integration test through vitest's provide/inject.
import { inject } from 'vitest';
import type { StackUrls } from '../../deploy/local/settings.ts';

export type { StackUrls };

declare module 'vitest' {
  interface ProvidedContext {
    /** Set by test/global-setup.ts for the `integration` project only. */
    stackUrls: StackUrls;
  }
}

/** URLs of the stack the global setup started or found running. Integration tests only. */
export function stackUrls(): StackUrls {
  const urls = inject('stackUrls');
  if (!urls) {
    throw new Error(
      'no stack URLs: stackUrls() works in *.int.test.ts files, which run with test/global-setup.ts',
    );
  }
  return urls;
}
