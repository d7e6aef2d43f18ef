import { createSessionStore, redisBackend, type SessionStore } from "@sessionbridge/core";
import { createClient } from "redis";
import type { AppConfig, StoreKind } from "../config.js";
import { SESSION_MAX_AGE_MS } from "../payload.js";

/** Our core store for an `ours-*` row, with default options apart from the shared session lifetime. */
export function createOurStore(kind: StoreKind, config: AppConfig): SessionStore {
  if (kind === "ours-redis-node-redis") {
    // Connected in the background: the store waits for it (the bench warms up before measuring).
    const client = createClient({ url: config.redisUrl, disableOfflineQueue: true });
    client.on("error", () => undefined);
    client.connect().catch(() => undefined);
    return createSessionStore({ backend: redisBackend({ client }), ttlMs: SESSION_MAX_AGE_MS, timeoutMs: config.timeoutMs });
  }
  const url = kind.startsWith("ours-redis") ? config.redisUrl : kind === "ours-memcached" ? `memcached://${config.memcachedServer}` : "memory://";
  return createSessionStore({ url, ttlMs: SESSION_MAX_AGE_MS, timeoutMs: config.timeoutMs });
}

export function isOurs(kind: StoreKind): kind is "ours-redis" | "ours-redis-node-redis" | "ours-redis-renew" | "ours-memcached" | "ours-memory" {
  return kind.startsWith("ours-");
}

/**
 * The adapters are loaded by name at run time so the incumbent rows still run while an adapter is
 * being written; a missing export fails that row with a clear message.
 */
export async function ourAdapterStore<S>(config: AppConfig, moduleName: string, exportName: string): Promise<S> {
  const module = (await import(moduleName)) as Record<string, unknown>;
  const create = module[exportName];
  if (typeof create !== "function") throw new Error(`${moduleName} does not export ${exportName}() yet`);
  return (create as (store: SessionStore) => S)(createOurStore(config.store, config));
}
