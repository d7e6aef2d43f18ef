import { SessionStoreError } from "../errors.js";
import type { SessionStore } from "../store.js";
import { storedKeys } from "../tools.js";
import type { MigrationSource, SourceRead } from "./source.js";

/**
 * Another sessionbridge store as a migration source (Memcached → Redis, a new cluster, a new prefix or
 * key secret): a miss in the new store reads through the old one, and the session moves with its
 * creation time, expiry, user and meta. The old store stays the application's: it is never closed here.
 */
export function sessionbridgeSource(old: SessionStore<object>, keepSource: boolean): MigrationSource {
  return {
    label: `sessionbridge store on ${old.backend.label} (prefix "${old.options.prefix}")`,
    keepSource,
    async read(id: string): Promise<SourceRead> {
      const loaded = await old.load(id);
      if (loaded === null) return "absent";
      const session = { data: loaded.data as Record<string, unknown>, ttlMs: loaded.ttlMs, expiresAtMs: loaded.expiresAtMs, createdAtMs: loaded.createdAtMs };
      return { ...session, ...(loaded.userId === undefined ? {} : { userId: loaded.userId }), ...(loaded.meta === undefined ? {} : { meta: loaded.meta }), ...(loaded.browserSession === true ? { browserSession: true as const } : {}) };
    },
    remove: (id: string) => old.destroy(id),
    async *ids(): AsyncIterable<string> {
      if (old.options.hashedKeys) {
        throw new SessionStoreError("UNSUPPORTED", "the source store hashes its keys (keySecret), so its session ids cannot be listed; its sessions move on their next read instead");
      }
      if (old.backend.capabilities.scan || old.backend.listWithExpiry === undefined) {
        yield* old.ids(); // SCAN, or UNSUPPORTED where the backend cannot list at all
        return;
      }
      // Memcached cannot SCAN: the same metadump listing as `sessionbridge count` and `export` (where the
      // server allows it). Unhashed keys are prefix + id.
      for await (const batch of storedKeys(old)) for (const { key } of batch) yield key;
    },
    close: async () => undefined,
  };
}
