import type { LoadedSession } from "@sessionbridge/core";
import { leanCopy } from "@sessionbridge/core/adapter";

/** At most this many session ids are remembered. */
export const RECENT_MAX_ENTRIES = 10_000;
/** At most this many bytes of stored bodies (an upper bound of their heap size) are remembered. */
export const RECENT_MAX_BYTES = 8 * 1024 * 1024;
/** What one entry costs besides its body (the lean record, the map entry), counted against the bytes. */
const ENTRY_OVERHEAD_BYTES = 256;

/**
 * The latest load of each session id, for saves that @fastify/session makes without telling the store
 * which request (and so which load) they belong to: the store without the plugin, `session.reload()`.
 * Only what a conditional, merging save needs is kept (`leanCopy`: the version and the stored body, not
 * the decoded data), bounded by count and by bytes; the least recently loaded go first. A session not
 * remembered (evicted, or one body larger than the whole budget) is saved without its load: the save
 * then merges onto the stored session instead of comparing with what the request read.
 */
export class RecentLoads {
  private readonly entries = new Map<string, { session: LoadedSession; bytes: number }>();
  private total = 0;

  constructor(
    readonly maxBytes = RECENT_MAX_BYTES,
    readonly maxEntries = RECENT_MAX_ENTRIES,
  ) {}

  remember(id: string, loaded: LoadedSession): void {
    this.forget(id);
    const lean = leanCopy(loaded);
    if (lean === undefined) return;
    const bytes = lean.bytes + ENTRY_OVERHEAD_BYTES;
    if (bytes > this.maxBytes) return;
    this.entries.set(id, { session: lean.session, bytes });
    this.total += bytes;
    while (this.total > this.maxBytes || this.entries.size > this.maxEntries) {
      this.forget(this.entries.keys().next().value as string);
    }
  }

  get(id: string): LoadedSession | undefined {
    return this.entries.get(id)?.session;
  }

  /** How many ids and bytes are held now. */
  get size(): { entries: number; bytes: number } {
    return { entries: this.entries.size, bytes: this.total };
  }

  private forget(id: string): void {
    const entry = this.entries.get(id);
    if (entry === undefined) return;
    this.entries.delete(id);
    this.total -= entry.bytes;
  }
}
