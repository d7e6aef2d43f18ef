/**
 * The optional in-process first tier: recently read entries kept in this process, so a hit costs no
 * round trip. Kept coherent across instances by the backend's pub/sub (cache.ts publishes every
 * write-through, delete and tag invalidation; each instance drops what it holds). Where the backend has
 * no pub/sub (Memcached), entries live only `ttlMs` (keep it short): another instance's change is seen
 * at most that late. Bounded by `maxEntries`; when full, the oldest entry is dropped (insertion order,
 * so a hit costs one Map lookup and nothing more).
 */
export interface FirstTierOptions {
  /** Most entries kept in this process. Default 10 000. */
  maxEntries?: number;
  /**
   * Longest time an entry is served from this process, in milliseconds (never past its freshness in the
   * backend). Default 60 000 on backends with pub/sub, 1000 on Memcached, where it is also how late another
   * instance's change may be seen.
   */
  ttlMs?: number;
}

export interface LocalEntry<V> {
  value: V | undefined;
  /** Until when (epoch ms) it is served from here. */
  untilMs: number;
  tags: readonly string[] | undefined;
}

export class FirstTier<V> {
  private readonly entries = new Map<string, LocalEntry<V>>();

  constructor(
    private readonly maxEntries: number,
    readonly ttlMs: number,
  ) {}

  get(key: string, nowMs: number): LocalEntry<V> | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.untilMs <= nowMs) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  /** Keeps an entry fresh until `freshUntilMs` in the backend for at most `ttlMs` here. */
  set(key: string, value: V | undefined, freshUntilMs: number, tags: readonly string[] | undefined, nowMs: number): void {
    const untilMs = Math.min(freshUntilMs, nowMs + this.ttlMs);
    if (untilMs <= nowMs) return;
    this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(key, { value, untilMs, tags });
  }

  delete(keys: readonly string[]): void {
    for (const key of keys) this.entries.delete(key);
  }

  /** Drops every entry written with one of `tags` (a scan of this process's entries, not of the backend). */
  deleteTags(tags: readonly string[]): void {
    for (const [key, entry] of this.entries) {
      if (entry.tags !== undefined && entry.tags.some((tag) => tags.includes(tag))) this.entries.delete(key);
    }
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
