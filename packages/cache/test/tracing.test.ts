import diagnosticsChannel from "node:diagnostics_channel";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { CACHE_TRACING_CHANNELS, memcachedBackend, memoryBackend, type CacheOperationContext } from "@sessionbridge/core";
import { startMemcachedNodes, type MemcachedServer } from "@sessionbridge/testing";
import { createCache, type Cache } from "../src/index.js";
import { openDatabase, productById, seedProducts, type Database, type Product } from "./database.js";

/**
 * Hit / miss / load metrics come from the core's tracing channel machinery: every cache operation is
 * published on `sessionbridge:cache.<operation>` with its outcome, never its key or value. A real database
 * (PGlite, or DATABASE_URL) answers the loader; the backend is the in-process memory one (tracing does not
 * depend on the backend), except where the node that served an operation is named (two memcached nodes).
 */

interface Seen {
  operation: string;
  outcome: string | undefined;
  error: string | undefined;
  node: unknown;
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
    seen.push({ operation: context.operation, outcome: context.outcome, error: (context.error as { code?: string } | undefined)?.code, node: (context as { node?: unknown }).node, text: JSON.stringify({ ...context, error: String(context.error) }) });
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

describe("the node that served a cache operation", () => {
  let nodes: MemcachedServer[] = [];
  beforeAll(async () => {
    nodes = await startMemcachedNodes(2);
  });
  afterAll(async () => {
    await Promise.all(nodes.map((node) => node.dispose()));
  });

  it("names the memcached node holding the entry for its lookups, write-through and deletion, and both nodes over many entries", async () => {
    const cache = createCache<Product>({ backend: memcachedBackend({ servers: nodes.map((node) => node.address) }), prefix: "traced-node:", jitter: 0 });
    caches.push(cache);
    const served = new Set<unknown>();
    for (let id = 1; id <= 12; id++) {
      const row = { id, name: "Kettle", price_cents: 100, version: 1 };
      await cache.getOrLoad(`product:${id}`, async () => row); // a miss: read, lock, load, write
      await cache.getOrLoad(`product:${id}`, async () => row); // a hit
      await cache.set(`product:${id}`, { ...row, version: 2 }, { version: 2 });
      await cache.delete(`product:${id}`);
      const events = seen.splice(0);
      expect(events.map((event) => [event.operation, event.outcome])).toEqual([["load", "found"], ["lookup", "miss"], ["lookup", "hit"], ["set", "written"], ["delete", undefined]]);
      const [load, ...onTheEntry] = events;
      expect(load?.node).toBeUndefined(); // the loader is the database, no cache node
      const node = onTheEntry[0]?.node as { role: string; address: string } | undefined;
      expect(node?.role).toBe("node");
      for (const event of onTheEntry) expect(event.node).toEqual(node);
      served.add(node?.address);
    }
    expect(served).toEqual(new Set(nodes.map((node) => node.address)));
  });
});
