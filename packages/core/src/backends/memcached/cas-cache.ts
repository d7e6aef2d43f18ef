/** How much of a value's start is kept to compare with a version prefix (`sb1:<12 chars>:` is 17). */
const HEAD_CHARS = 64;

interface Entry {
  node: string;
  cas: Buffer;
  head: string;
}

/**
 * The CAS token of the last value this process read or wrote under each key, so that the save which
 * follows a load in the same request goes straight to REPLACE-with-CAS: one round trip instead of GET +
 * REPLACE. It is only a shortcut: the server still checks the token, and a stale entry (someone else
 * wrote meanwhile) makes the write fall back to reading the current value. Tokens are per node, so an
 * entry is used only on the node it came from. Bounded, oldest entries dropped first.
 */
export class CasCache {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly maxEntries = 10_000) {}

  remember(key: string, node: string, cas: Buffer, value: Buffer | string): void {
    this.entries.delete(key);
    if (cas.every((byte) => byte === 0)) return; // CAS disabled on the server: nothing to remember
    // Version prefixes are ASCII, which Latin-1 decodes as UTF-8 does: no UTF-8 decoding of a read's head.
    const head = typeof value === "string" ? value.slice(0, HEAD_CHARS) : value.toString("latin1", 0, HEAD_CHARS);
    this.entries.set(key, { node, cas: Buffer.from(cas), head });
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
  }

  /** The token to replace with, when the value last seen on `node` starts with `prefix`. */
  tokenFor(key: string, node: string, prefix: string): Buffer | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined || entry.node !== node || prefix.length > entry.head.length || !entry.head.startsWith(prefix)) return undefined;
    return entry.cas;
  }

  forget(key: string): void {
    this.entries.delete(key);
  }
}
