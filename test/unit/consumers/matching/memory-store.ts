// An in-memory matched target for the model tests of consumers/matching: the target table (its
// own key, the match column unique, a soft-delete mark) and the links table, behind the store port
// the real sinks implement with SQL (consumers/matching/apply.ts MatchStore). A write that would
// give two rows one match value throws a unique violation, as the database does; `savepoint`
// gives an event's all-or-nothing, as the sinks' savepoints do.
import type { EventPosition, MatchStore } from '../../../../consumers/matching/apply.ts';
import type { Link } from '../../../../consumers/matching/decide.ts';
import type { Row } from '../../../../schemas/contract.ts';

export interface MemoryRow {
  email: string | null;
  /** the other columns, as one value */
  v: unknown;
  deleted: boolean;
}

export class UniqueViolation extends Error {}

export class MemoryTarget implements MatchStore {
  rows = new Map<string, MemoryRow>();
  links = new Map<string, Link>();
  private next = 1;

  constructor(private readonly soft: boolean) {}

  /** a row the target system made itself */
  own(email: string, v: unknown): string {
    const key = String(this.next++);
    this.rows.set(key, { email, v, deleted: false });
    return key;
  }

  /** runs `f` all-or-nothing (a savepoint): on a throw the state is as before */
  async savepoint<T>(f: () => Promise<T>): Promise<T> {
    const rows = new Map([...this.rows].map(([k, r]) => [k, { ...r }]));
    const links = new Map([...this.links].map(([k, l]) => [k, { ...l }]));
    const next = this.next;
    try {
      return await f();
    } catch (err) {
      this.rows = rows;
      this.links = links;
      this.next = next;
      throw err;
    }
  }

  private unique(key: string, email: string | null): void {
    if (email === null) return;
    for (const [k, r] of this.rows)
      if (k !== key && r.email === email) throw new UniqueViolation(`email ${email} held by ${k}`);
  }

  link(key: Row): Promise<Link | undefined> {
    const l = this.links.get(String(key.id));
    return Promise.resolve(l && { ...l });
  }

  holder(value: unknown) {
    for (const [k, r] of this.rows) if (r.email === value) return Promise.resolve(k);
    return Promise.resolve(undefined);
  }

  owner(targetKey: string) {
    const l = [...this.links.values()].find((x) => x.targetKey === targetKey);
    return Promise.resolve(l ? { deleted: l.deleted, lsn: l.lsn, seq: l.seq } : null);
  }

  upsertLink(key: Row, link: { targetKey: string | null; deleted: boolean }, pos: EventPosition) {
    for (const [k, l] of this.links)
      if (link.targetKey !== null && k !== String(key.id) && l.targetKey === link.targetKey)
        throw new UniqueViolation(`target key ${link.targetKey} linked to ${k}`);
    this.links.set(String(key.id), { ...link, lsn: pos.lsn, seq: pos.seq });
    return Promise.resolve();
  }

  update(row: Row, unchanged: readonly string[], targetKey: string) {
    const r = this.rows.get(targetKey);
    if (!r) return Promise.resolve(false);
    const email = unchanged.includes('email') ? r.email : ((row.email ?? null) as string | null);
    this.unique(targetKey, email);
    this.rows.set(targetKey, {
      email,
      v: unchanged.includes('v') ? r.v : row.v,
      deleted: unchanged.includes('deleted') ? r.deleted : row.deleted === true,
    });
    return Promise.resolve(true);
  }

  insert(row: Row) {
    const key = String(this.next++);
    const email = (row.email ?? null) as string | null;
    this.unique(key, email);
    this.rows.set(key, { email, v: row.v, deleted: row.deleted === true });
    return Promise.resolve(key);
  }

  release(targetKey: string) {
    this.rows.get(targetKey)!.email = null;
    return Promise.resolve();
  }

  remove(targetKey: string) {
    if (this.soft) {
      const r = this.rows.get(targetKey);
      if (r) r.deleted = true;
    } else this.rows.delete(targetKey);
    return Promise.resolve();
  }

  truncate(pos: EventPosition) {
    for (const l of this.links.values())
      if (pos.lsn > l.lsn || (pos.lsn === l.lsn && pos.seq > l.seq)) {
        if (l.targetKey !== null && !l.deleted) void this.remove(l.targetKey);
        Object.assign(l, {
          deleted: true,
          targetKey: this.soft ? l.targetKey : null,
          lsn: pos.lsn,
          seq: pos.seq,
        });
      }
    return Promise.resolve();
  }

  /** the live, linked rows: what the target holds for the source */
  live(): { email: string | null; v: unknown }[] {
    const linked = new Set([...this.links.values()].map((l) => l.targetKey));
    return [...this.rows]
      .filter(([k, r]) => !r.deleted && linked.has(k))
      .map(([, r]) => ({ email: r.email, v: r.v }));
  }
}
