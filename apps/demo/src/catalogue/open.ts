import type { Backend } from "@sessionbridge/core";
import { backendFromUrl } from "@sessionbridge/core/adapter";
import { Catalogue } from "./catalogue.js";
import { ProductDatabase } from "./products.js";

/** How long a cached product or list stays fresh: long enough that a reload after an edit shows a hit. */
const CACHE_TTL_MS = 5 * 60_000;

/**
 * One instance's catalogue: its own database pool and its own cache connections. `cache` is the session
 * store's URL (the cache lives in the same Redis or Memcached, under `demo:cache:`), or, for the
 * in-process memory mode, the one memory backend every instance shares.
 */
export function openCatalogue(databaseUrl: string, cache: string | Backend, instanceName: string, timeoutMs: number): Catalogue {
  const backend = typeof cache === "string" ? () => backendFromUrl(cache) : () => cache;
  return new Catalogue(new ProductDatabase(databaseUrl, timeoutMs), backend, instanceName, { ttlMs: CACHE_TTL_MS, timeoutMs });
}

/** Creates the products table and its sample rows once, before the instances start. */
export async function prepareCatalogue(databaseUrl: string, timeoutMs: number): Promise<void> {
  const db = new ProductDatabase(databaseUrl, Math.max(timeoutMs, 10_000));
  try {
    await db.prepare();
  } finally {
    await db.close();
  }
}
