// WAL positions (LSN) as bigint: "16/B374D848" <-> 0x16B374D848n.
export type Lsn = bigint;

/** The value of `text[from..to)` as 1-8 hex digits, or -1. */
function hexHalf(text: string, from: number, to: number): number {
  const n = to - from;
  if (n < 1 || n > 8) return -1;
  let v = 0;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    const d = c >= 48 && c <= 57 ? c - 48 : c >= 65 && c <= 70 ? c - 55 : c >= 97 && c <= 102 ? c - 87 : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

const TWO_32 = 4294967296;
/** Below this high half, high * 2^32 + low is an exact double (< 2^53): one BigInt conversion. */
const EXACT_HIGH = 0x200000;

/**
 * "%X/%X" -> bigint. Called for every change event (the stream's positions), so it reads the two
 * halves by hand rather than with a regular expression and two hex BigInt parses.
 */
export function parseLsn(text: string): Lsn {
  const slash = text.indexOf('/');
  const hi = slash < 0 ? -1 : hexHalf(text, 0, slash);
  const lo = hi < 0 ? -1 : hexHalf(text, slash + 1, text.length);
  if (lo < 0) throw new Error(`invalid LSN "${text}"`);
  return hi < EXACT_HIGH ? BigInt(hi * TWO_32 + lo) : (BigInt(hi) << 32n) | BigInt(lo);
}

export function formatLsn(lsn: Lsn): string {
  if (lsn < 0n) throw new Error(`invalid LSN ${lsn}`);
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}
