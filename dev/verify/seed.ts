// Realistic `users` rows for the demo, tests and benchmarks: deterministic (seeded), with NULLs,
// unicode, large TOASTed bios, jsonb, arrays, numerics and timestamps.
import type pg from 'pg';

export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FIRST = [
  'Ada',
  'Linus',
  'Grace',
  'Zoë',
  'José',
  'Mei',
  'Olúwaseun',
  'Søren',
  'Ana',
  'Yuki',
  'Émile',
  'Priya',
];
const LAST = [
  'Lovelace',
  'Torvalds',
  'Hopper',
  'Müller',
  'García',
  'Chen',
  'Okafor',
  'Kierkegaard',
  'Silva',
  'Tanaka',
];
const CITIES = [
  ['Paris', 'FR'],
  ['Berlin', 'DE'],
  ['Lagos', 'NG'],
  ['Tokyo', 'JP'],
  ['São Paulo', 'BR'],
  ['Zürich', 'CH'],
  ['Austin', 'US'],
] as const;
const TAGS = ['admin', 'beta', 'vip', 'trial', 'staff', 'emoji-🚀', 'legacy'];

export interface UserRow {
  email: string;
  username: string;
  first_name: string | null;
  middle_name: string | null;
  last_name: string | null;
  password_hash: string;
  phone: string | null;
  company: string | null;
  address: string | null;
  zip: string | null;
  city: string | null;
  country: string | null;
  is_active: boolean;
  is_blocked: boolean;
  bio: string | null;
  preferences: string | null;
  tags: string[] | null;
  balance: string | null;
  last_login_at: string | null;
}

export function makeUser(
  r: () => number,
  n: number,
  opts: { largeBioRatio?: number; tag?: string } = {},
): UserRow {
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)]!;
  const first = pick(FIRST);
  const last = pick(LAST);
  const [city, country] = pick(CITIES);
  const large = r() < (opts.largeBioRatio ?? 0.1);
  const tag = opts.tag ?? 'u';
  return {
    email: `${first.toLowerCase()}.${last.toLowerCase()}.${tag}${n}@example.org`,
    username: `${first.toLowerCase()}${n}`,
    first_name: first,
    middle_name: r() < 0.7 ? null : pick(FIRST),
    last_name: last,
    password_hash: `$argon2id$v=19$m=65536,t=3,p=4$${Math.floor(r() * 1e12).toString(36)}`,
    phone: r() < 0.2 ? null : `+33 6 ${String(Math.floor(r() * 1e8)).padStart(8, '0')}`,
    company: r() < 0.5 ? null : `${pick(LAST)} & Co`,
    address: `${Math.floor(r() * 200)} rue ${pick(LAST)}`,
    zip: String(Math.floor(r() * 99999)).padStart(5, '0'),
    city,
    country,
    is_active: r() < 0.9,
    is_blocked: r() < 0.05,
    bio: large
      ? `${first} writes: ${'Lorem ipsum dolor sit amet, ünïcödé ✓ '.repeat(80 + Math.floor(r() * 200))}`
      : r() < 0.3
        ? null
        : r() < 0.1
          ? ''
          : `Hi, I am ${first} 👋`,
    preferences:
      r() < 0.2
        ? null
        : JSON.stringify({
            theme: r() < 0.5 ? 'dark' : 'light',
            newsletter: r() < 0.5,
            n: Math.floor(r() * 1e6),
          }),
    tags: r() < 0.3 ? null : [pick(TAGS), pick(TAGS)],
    balance: r() < 0.1 ? null : (Math.floor(r() * 1e9) / 100).toFixed(2),
    last_login_at: r() < 0.3 ? null : new Date(Date.UTC(2020, 0, 1) + Math.floor(r() * 1.5e11)).toISOString(),
  };
}

const COLUMNS = [
  'email',
  'username',
  'first_name',
  'middle_name',
  'last_name',
  'password_hash',
  'phone',
  'company',
  'address',
  'zip',
  'city',
  'country',
  'is_active',
  'is_blocked',
  'bio',
  'preferences',
  'tags',
  'balance',
  'last_login_at',
] as const;

/** Inserts rows with one multi-row INSERT per chunk; returns the new ids. */
export async function insertUsers(
  client: pg.Client | pg.PoolClient,
  rows: UserRow[],
  chunk = 500,
): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < rows.length; i += chunk) {
    const part = rows.slice(i, i + chunk);
    const values: unknown[] = [];
    const tuples = part.map(
      (row) => `(${COLUMNS.map((c) => (values.push(row[c]), `$${values.length}`)).join(', ')})`,
    );
    const res = await client.query<{ id: string }>(
      `INSERT INTO users (${COLUMNS.join(', ')}) VALUES ${tuples.join(', ')} RETURNING id::text`,
      values,
    );
    ids.push(...res.rows.map((r) => r.id));
  }
  return ids;
}
