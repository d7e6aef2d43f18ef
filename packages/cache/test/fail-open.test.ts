import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { memcachedBackend, redisBackend, type Backend } from "@sessionbridge/core";
import { createCache, type Cache } from "../src/index.js";
import { eventually, startMemcached, startRedis, type MemcachedServer, type RedisServer } from "@sessionbridge/testing";
import { openDatabase, productById, renameProduct, seedProducts, type Database, type Product } from "./database.js";

// The cache never takes the site down: a stopped or hung backend costs a read at most the store
// deadline, then the loader answers directly; the outage is reported once, and recovery is automatic.

let db: Database;
let redis: RedisServer;
let memcached: MemcachedServer;

beforeAll(async () => {
  [db, redis, memcached] = await Promise.all([openDatabase(), startRedis({ kind: "plain" }), startMemcached()]);
  await seedProducts(db);
});
afterAll(async () => {
  await Promise.all([db?.close(), redis?.dispose(), memcached?.dispose()]);
});

interface Outage {
  name: string;
  backend(): Backend;
  server(): { pause(): void; resume(): void };
}

const targets: Outage[] = [
  { name: "redis", backend: () => redisBackend({ url: redis.url }), server: () => redis },
  { name: "memcached", backend: () => memcachedBackend({ servers: [memcached.address] }), server: () => memcached },
];

function watch(cache: Cache<Product>) {
  const seen = { unavailable: 0, available: 0 };
  cache.on("unavailable", () => seen.unavailable++);
  cache.on("available", () => seen.available++);
  return seen;
}

for (const target of targets) {
  describe(`fail open on ${target.name}`, () => {
    it("a hung backend: reads call the loader directly, the outage is reported once, and the cache recovers by itself", async () => {
      const cache = createCache<Product>({ backend: target.backend(), prefix: `cache:hung-${target.name}:`, timeoutMs: 300, probeIntervalMs: 50 });
      const seen = watch(cache);
      try {
        expect((await cache.lookup("product:1", () => productById(db, 1))).source).toBe("miss");
        target.server().pause();
        try {
          const during = await Promise.all(Array.from({ length: 20 }, () => cache.lookup("product:1", () => productById(db, 1))));
          expect(during.every((r) => r.source === "bypass" && r.value?.id === 1)).toBe(true);
          const later = await cache.lookup("product:2", () => productById(db, 2));
          expect(later).toMatchObject({ source: "bypass", value: { id: 2 } });
          expect(seen.unavailable).toBe(1);
        } finally {
          target.server().resume();
        }
        await eventually("the cache noticed the backend is back", () => seen.available === 1);
        expect((await cache.lookup("product:1", () => productById(db, 1))).source).toBe("hit");
        expect(seen.unavailable).toBe(1);
      } finally {
        await cache.close();
      }
    });

    it("a write-through during an outage: the old entry is deleted once the backend is back, so it never outlives the write", async () => {
      const cache = createCache<Product>({ backend: target.backend(), prefix: `cache:replay-${target.name}:`, timeoutMs: 300, probeIntervalMs: 50 });
      const seen = watch(cache);
      try {
        await cache.getOrLoad("product:3", () => productById(db, 3));
        target.server().pause();
        let outcome: string;
        try {
          const row = await renameProduct(db, 3, `renamed during a ${target.name} outage`);
          outcome = await cache.set("product:3", row, { version: row.version });
        } finally {
          target.server().resume();
        }
        expect(outcome).toBe("unavailable");
        await eventually("the cache noticed the backend is back", () => seen.available === 1);
        expect(await cache.lookup("product:3", () => productById(db, 3))).toMatchObject({ source: "miss", value: { name: `renamed during a ${target.name} outage` } });
      } finally {
        await cache.close();
      }
    });
  });
}

it("a stopped Redis: every read is answered by the loader, and the cache fills again after a restart", async () => {
  const cache = createCache<Product>({ backend: redisBackend({ url: redis.url }), prefix: "cache:stopped:", timeoutMs: 300, probeIntervalMs: 50 });
  const seen = watch(cache);
  try {
    await redis.stop();
    const during = await Promise.all(Array.from({ length: 10 }, () => cache.lookup("product:4", () => productById(db, 4))));
    expect(during.every((r) => r.source === "bypass" && r.value?.id === 4)).toBe(true);
    expect(seen.unavailable).toBe(1);
    await redis.restart();
    await eventually("the cache noticed Redis is back", () => seen.available === 1);
    expect((await cache.lookup("product:4", () => productById(db, 4))).source).toBe("miss");
    expect((await cache.lookup("product:4", () => productById(db, 4))).source).toBe("hit");
  } finally {
    await cache.close();
  }
});
