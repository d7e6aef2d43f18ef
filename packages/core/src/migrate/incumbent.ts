import type { Backend } from "../backend.js";
import { tooDeep } from "../depth.js";
import { isSessionStoreError, SessionStoreError } from "../errors.js";
import type { SourceRead, MigrationSource, SourceSession } from "./source.js";

/** How one incumbent package stores a session: its default key prefix and how to read its value. */
export interface IncumbentFormat {
  readonly name: string;
  readonly defaultPrefix: string;
  /** The session in a parsed value; null when the value is not a session of this format. */
  toSession(value: unknown, now: number, fallbackTtlMs: number): SourceSession | null;
}

export interface IncumbentSourceSettings {
  format: IncumbentFormat;
  /**
   * Where the keys live. Several backends: one per Memcached node of an incumbent that spread its keys
   * with its own hashing (memjs `hash % nodes`, the memcached package's hash ring); a read asks each one.
   */
  backends: readonly [Backend, ...Backend[]];
  /** True when the source created its backends itself (from URLs) and so closes them. */
  ownsBackend: boolean;
  prefix: string;
  parse: (text: string) => unknown;
  keepSource: boolean;
  /** TTL for sessions whose value carries no expiry (a browser-session cookie): the store's `ttlMs`. */
  fallbackTtlMs: number;
  /** The store's own prefix when it shares the backend: its keys are left out of `ids()`. */
  skipPrefix: string | undefined;
}

/**
 * A migration source over an incumbent's keys (`prefix + id`) in its format, read with the same Backend
 * contract the store uses (one GET per read and node, one DEL per removal and node, SCAN to list). A
 * backend stays mechanics: the format is read here, beside the store.
 */
export function incumbentSource(settings: IncumbentSourceSettings): MigrationSource {
  const { format, backends, prefix, parse, keepSource, fallbackTtlMs, skipPrefix } = settings;
  const [backend] = backends;
  const where = backends.length === 1 ? backend.label : `${backends.length} nodes (${backends.map((b) => b.label).join(", ")})`;
  return {
    label: `${format.name} on ${where} (prefix "${prefix}")`,
    keepSource,
    async read(id: string): Promise<SourceRead> {
      let texts: Array<string | null>;
      try {
        texts = await Promise.all(backends.map((b) => b.get(prefix + id)));
      } catch (error) {
        // Another type of value under the prefix (Redis WRONGTYPE: a queue or a hash under koa-redis's
        // default prefix "") is no session of this format: left alone, never a failed read or migrate.
        if (isSessionStoreError(error) && error.code === "CORRUPT") return "unreadable";
        throw error;
      }
      const text = texts.find((t) => t !== null) ?? null;
      if (text === null) return "absent";
      let value: unknown;
      try {
        value = await parse(text);
      } catch {
        return "unreadable";
      }
      const session = format.toSession(value, Date.now(), fallbackTtlMs);
      // Data deeper than the store writes would fail the copy: it is no session, like any other it cannot use.
      return session === null || tooDeep(session.data) ? "unreadable" : session;
    },
    async remove(id: string): Promise<boolean> {
      const counts = await Promise.all(backends.map((b) => b.delete([prefix + id])));
      return counts.some((count) => count > 0);
    },
    async *ids(): AsyncIterable<string> {
      const mine = (key: string) => skipPrefix === undefined || !key.startsWith(skipPrefix);
      if (backends.length === 1 && backend.capabilities.scan) {
        for await (const batch of backend.scan(prefix)) {
          for (const key of batch) if (mine(key)) yield key.slice(prefix.length);
        }
        return;
      }
      // Memcached: its own listing (lru_crawler metadump), node by node, where the server allows it.
      if (!backends.every((b) => b.listWithExpiry !== undefined)) {
        throw new SessionStoreError("UNSUPPORTED", `${backend.label} cannot list keys, so the ${format.name} sessions cannot be listed; they move on their next read instead`, { backend: backend.label });
      }
      for (const node of backends) {
        for await (const batch of node.listWithExpiry?.(prefix) ?? []) {
          for (const { key } of batch) if (mine(key)) yield key.slice(prefix.length);
        }
      }
    },
    async close(): Promise<void> {
      if (settings.ownsBackend) await Promise.all(backends.map((b) => b.close()));
    },
  };
}
