// The running stack's URLs, handed from the global setup (test/global-setup.ts) to every
// integration test through vitest's provide/inject.
import { inject } from 'vitest';
import type { StackUrls } from './provided.ts';

export type { StackUrls };

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
