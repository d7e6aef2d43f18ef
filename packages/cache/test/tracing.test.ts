import diagnosticsChannel from "node:diagnostics_channel";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { CACHE_TRACING_CHANNELS, memoryBackend, type CacheOperationContext } from "@sessionbridge/core";
import { createCache, type Cache } from "../src/index.js";
import { openDatabase, productById, seedProducts, type Database, type Product } from "./database.js";

/**
 * Hit / miss / load metrics come from the core's tracing channel machinery: every cache operation is
 * published on `sessionbridge:cache.<operation>` with its outcome, never its key or value. A real database
 * (PGlite, or DATABASE_URL) answers the loader; the backend is the in-process memory one (tracing does not
 * depend on the backend).
 */

interface Seen {
  operation: string;
  outcome: string | undefined;
  error: string | undefined;
  /** Everything the context carried, as text: must never contain a key or a value. */
  text: string;
}

let db: Database;
let seen: Seen[] = [];
const caches: Cache<Product>[] = [];
const handlers = {
  start() {},
  end() {},
  asyncStart() {},
  asyncEnd(context: CacheOperationContext) {
    seen.push({ operation: context.operation, outcome: context.outcome, error: (context.error as { code?: string } | undefined)?.code, text: JSON.stringify({ ...context, error: String(context.error) }) });
  },
  error() {},
};
const channels = Object.values(CACHE_TRACING_CHANNELS).map((name) => diagnosticsChannel.tracingChannel<unknown, CacheOperationContext>(name));

beforeAll(async () => {
  db = await openDatabase();
  await seedProducts(db);
  for (const channel of channels) channel.subscribe(handlers);
});
afterAll(async () => {
  for (const channel of channels) channel.unsubscribe(handlers);
  await db?.close();
});
afterEach(async () => {
  seen = [];
  await Promise.all(caches.splice(0).map((cache) => cache.close()));
});

function open(options: { loaderTimeoutMs?: number } = {}): Cache<Product> {
  const cache = createCache<Product>({ backend: memoryBackend(), prefix: "traced:", jitter: 0, ...options });
  caches.push(cache);
  return cache;
}

const of = (operation: string) => seen.filter((event) => event.operation === operation).map((event) => event.outcome ?? event.error);

describe("cache tracing channels", () => {
  it("publishes each lookup with where its value came from, and each loader call", async () => {
    const cache = open();
    await cache.getOrLoad("product:1", () => productById(db, 1));
    await cache.getOrLoad("product:1", () => productById(db, 1));
    await cache.getOrLoad("product:404", () => productById(db, 404));
    expect(of("lookup")).toEqual(["miss", "hit", "miss"]);
    expect(of("load")).toEqual(["found", "notFound"]);
    expect(seen.every((event) => event.text.includes('"system":"memory"') && event.text.includes('"prefix":"traced:"'))).toBe(true);
  });

  it("a stampede in one process: one miss, one loader call, every other caller joined", async () => {
    const cache = open();
    await Promise.all(Array.from({ length: 50 }, () => cache.getOrLoad("product:2", () => productById(db, 2))));
    expect(of("load")).toEqual(["found"]);
    const lookups = of("lookup");
    expect(lookups.filter((source) => source === "miss")).toHaveLength(1);
    expect(lookups.filter((source) => source === "joined")).toHaveLength(49);
  });

  it("publishes write-through outcomes, deletions and tag invalidations", async () => {
    const cache = open();
    const row = (await productById(db, 3)) as Product;
    await cache.set("product:3", { ...row, version: 5 }, { version: 5 });
    await cache.set("product:3", { ...row, version: 4 }, { version: 4 });
    await cache.delete("product:3");
    await cache.invalidateTag("products");
    expect(seen.map((event) => [event.operation, event.outcome])).toEqual([
      ["set", "written"],
      ["set", "older"],
      ["delete", undefined],
      ["invalidateTag", undefined],
    ]);
  });

  it("publishes a loader that fails or times out as the load's error", async () => {
    const cache = open({ loaderTimeoutMs: 20 });
    await expect(cache.getOrLoad("product:4", () => new Promise<Product>(() => undefined))).rejects.toMatchObject({ code: "TIMEOUT" });
    expect(of("load")).toEqual(["TIMEOUT"]);
    expect(seen.find((event) => event.operation === "lookup")?.error).toBe("TIMEOUT");
  });

  it("never puts a key or a value on the channels", async () => {
    const cache = open();
    await cache.getOrLoad("customer-7@example.com", async () => ({ id: 7, name: "Secret product name", price_cents: 1, version: 1 }));
    await cache.set("customer-7@example.com", { id: 7, name: "Secret product name", price_cents: 1, version: 2 });
    expect(seen.length).toBeGreaterThan(0);
    for (const event of seen) {
      expect(event.text).not.toContain("customer-7");
      expect(event.text).not.toContain("Secret product name");
    }
  });

  it("publishes nothing once nobody listens", async () => {
    for (const channel of channels) channel.unsubscribe(handlers);
    try {
      const cache = open();
      await cache.getOrLoad("product:5", () => productById(db, 5));
      expect(seen).toEqual([]);
    } finally {
      for (const channel of channels) channel.subscribe(handlers);
    }
  });
});
