import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { memcachedBackend, memoryBackend, redisBackend, type Backend } from "@sessionbridge/core";
import { eventually, startMemcached, startRedis, type MemcachedServer, type RedisServer } from "@sessionbridge/testing";
import { createCache, type Cache, type CacheOptions } from "../src/index.js";
import { openDatabase, productById, renameProduct, seedProducts, type Database, type Product } from "./database.js";

// The in-process first tier: a repeated read costs no round trip, and an edit on one instance reaches
// the others through pub/sub (Redis, memory) or, on Memcached, within the first tier's short TTL.

let db: Database;
let redis: RedisServer;
let memcached: MemcachedServer;
const sharedMemory = memoryBackend();

beforeAll(async () => {
  [db, redis, memcached] = await Promise.all([openDatabase(), startRedis({ kind: "plain" }), startMemcached()]);
  await seedProducts(db);
});
afterAll(async () => {
  await Promise.all([db?.close(), redis?.dispose(), memcached?.dispose(), sharedMemory.close()]);
});

const versioned = { versionOf: (row: Product) => row.version, jitter: 0 };

async function instances(backend: () => Backend, prefix: string, options: Partial<CacheOptions<Product>> = {}): Promise<[Cache<Product>, Cache<Product>]> {
  return [createCache<Product>({ backend: backend(), prefix, firstTier: true, ...versioned, ...options }), createCache<Product>({ backend: backend(), prefix, firstTier: true, ...versioned, ...options })];
}

const coherent: Array<{ name: string; backend: () => Backend }> = [
  { name: "redis", backend: () => redisBackend({ url: redis.url }) },
  { name: "memory", backend: () => ({ ...sharedMemory, close: async () => undefined }) },
];

for (const target of coherent) {
  describe(`first tier on ${target.name} (pub/sub)`, () => {
    it("serves a repeated read from the process, and drops it on every instance when one writes through", async () => {
      const [a, b] = await instances(target.backend, `cache:l1-${target.name}:`);
      try {
        await a.getOrLoad("product:1", () => productById(db, 1));
        expect((await a.lookup("product:1", () => productById(db, 1))).source).toBe("hit");
        expect((await a.lookup("product:1", () => productById(db, 1))).source).toBe("local");
        const row = await renameProduct(db, 1, `edited on b (${target.name})`);
        expect(await b.set("product:1", row)).toBe("written");
        await eventually("instance a dropped its copy", async () => (await a.lookup("product:1", () => productById(db, 1))).value?.name === row.name);
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });

    it("a tag invalidated on one instance drops the tagged entries another holds", async () => {
      const [a, b] = await instances(target.backend, `cache:l1t-${target.name}:`);
      try {
        const load = () => productById(db, 2);
        await a.getOrLoad("product:2", load, { tags: ["catalogue"] });
        await a.lookup("product:2", load, { tags: ["catalogue"] });
        expect((await a.lookup("product:2", load, { tags: ["catalogue"] })).source).toBe("local");
        await b.invalidateTag("catalogue");
        await eventually("instance a dropped the tagged entry", async () => (await a.lookup("product:2", load, { tags: ["catalogue"] })).source === "miss");
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });
  });
}

describe("first tier on memcached (no pub/sub)", () => {
  it("another instance's edit is seen once the first tier's ttlMs has passed", async () => {
    const [a, b] = await instances(() => memcachedBackend({ servers: [memcached.address] }), "cache:l1m:", { firstTier: { ttlMs: 200 } });
    try {
      await a.getOrLoad("product:3", () => productById(db, 3));
      await a.lookup("product:3", () => productById(db, 3));
      expect((await a.lookup("product:3", () => productById(db, 3))).source).toBe("local");
      const row = await renameProduct(db, 3, "edited on b (memcached)");
      await b.set("product:3", row);
      await eventually("instance a sees the edit after the first tier's TTL", async () => (await a.getOrLoad("product:3", () => productById(db, 3)))?.name === row.name);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
