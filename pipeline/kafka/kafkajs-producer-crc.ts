// CRC32C (Castagnoli) of a record batch, as kafkajs's produce path needs it (the batch body is
// checksummed once per partition and send), computed eight bytes per step ("slicing by 8") instead
// of kafkajs 2.2.4's one table lookup per byte: in the producer's profile that loop was 2-4 % of
// its busy time. The value is the same for every input (a property test compares both).
// Installed like the record encoder (kafkajs-producer-records.ts): kafkajs's record batch module
// takes `require('../crc32C')` when it is first loaded, at the first produce request; the module
// cache entry is replaced before then, only for kafkajs 2.2.4, only if that module is not loaded.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** tables[k][b]: the CRC of byte b followed by k zero bytes (reflected polynomial 0x82F63B78). */
function crcTables(): Int32Array[] {
  const t0 = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t0[n] = c;
  }
  const tables = [t0];
  for (let k = 1; k < 8; k++) {
    const prev = tables[k - 1]!;
    const t = new Int32Array(256);
    for (let n = 0; n < 256; n++) t[n] = t0[prev[n]! & 0xff]! ^ (prev[n]! >>> 8);
    tables.push(t);
  }
  return tables;
}

const [T0, T1, T2, T3, T4, T5, T6, T7] = crcTables() as [
  Int32Array,
  Int32Array,
  Int32Array,
  Int32Array,
  Int32Array,
  Int32Array,
  Int32Array,
  Int32Array,
];

/** CRC32C of `buf`, unsigned, as kafkajs's `crc32C(buffer)` returns it. */
export function crc32c(buf: Uint8Array): number {
  let crc = -1;
  const n = buf.length;
  const end8 = n - (n & 7);
  let i = 0;
  for (; i < end8; i += 8) {
    const lo = crc ^ (buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24));
    crc =
      T7[lo & 0xff]! ^
      T6[(lo >>> 8) & 0xff]! ^
      T5[(lo >>> 16) & 0xff]! ^
      T4[lo >>> 24]! ^
      T3[buf[i + 4]!]! ^
      T2[buf[i + 5]!]! ^
      T1[buf[i + 6]!]! ^
      T0[buf[i + 7]!]!;
  }
  for (; i < n; i++) crc = T0[(crc ^ buf[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}

const CRC = 'kafkajs/src/protocol/recordBatch/crc32C/index.js';
const BATCH = 'kafkajs/src/protocol/recordBatch/v0/index.js';

/** kafkajs's own crc32C (for the tests). */
export function kafkajsCrc32c(): (buf: Buffer) => number {
  return require(CRC) as (buf: Buffer) => number;
}

let installed: boolean | undefined;

/**
 * Puts crc32c in place of kafkajs's before its record batch module is loaded; true if in place
 * (idempotent). False (kafkajs keeps its own) for another kafkajs version or when the record
 * batch module was already loaded with the original.
 */
export function installCrc32c(): boolean {
  if (installed !== undefined) return installed;
  installed = false;
  try {
    const { version } = require('kafkajs/package.json') as { version: string };
    if (version !== '2.2.4') return false;
    if (require.cache[require.resolve(BATCH)]) return false;
    require(CRC); // loaded (its own table) so that its cache entry exists
    const entry = require.cache[require.resolve(CRC)];
    if (!entry) return false;
    entry.exports = crc32c;
    installed = true;
  } catch {
    installed = false;
  }
  return installed;
}
