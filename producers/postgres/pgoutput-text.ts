// Column values of the replication stream decoded from UTF-8 with Buffer's own decoder instead of
// a TextDecoder. pg-logical-replication's pgoutput reader decodes every text value (and every
// name) with `TextDecoder.decode`, whose per-call checks cost more than the decoding of a short
// value: 3 % of the producer's busy time in the catch-up profile. The strings are the same (a
// property test compares both over arbitrary bytes): invalid sequences become U+FFFD either way;
// a value that starts with a byte order mark, which TextDecoder drops, still goes to it.
// Installed once per process on the reader's prototype (BinaryReader.decodeText), guarded: if the
// library no longer has that method, its own decoding stays.
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const textDecoder = new TextDecoder();

/** TextDecoder's result for `buf`, by Buffer's decoder unless it starts with a UTF-8 BOM. */
export function decodeUtf8(buf: Uint8Array): string {
  if (buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf)
    return textDecoder.decode(buf);
  return Buffer.isBuffer(buf)
    ? buf.toString('utf8')
    : Buffer.from(buf.buffer, buf.byteOffset, buf.length).toString('utf8');
}

interface ReaderClass {
  prototype: { decodeText?: (buf: Uint8Array) => string };
}

let installed: boolean | undefined;

/** Puts decodeUtf8 in place of the pgoutput reader's decodeText (idempotent); true if in place. */
export function installPgoutputTextDecoder(): boolean {
  if (installed !== undefined) return installed;
  installed = false;
  try {
    const main = require.resolve('pg-logical-replication');
    const file = path.join(path.dirname(main), 'output-plugins/pgoutput/binary-reader.js');
    const { BinaryReader } = require(file) as { BinaryReader?: ReaderClass };
    if (typeof BinaryReader?.prototype.decodeText !== 'function') return false;
    BinaryReader.prototype.decodeText = decodeUtf8;
    installed = true;
  } catch {
    installed = false; // laid out differently: the library decodes as before
  }
  return installed;
}
