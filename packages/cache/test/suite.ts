import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { randomBytes } from "node:crypto";
import type { Backend } from "@sessionbridge/core";
import { createCache, type Cache, type CacheOptions } from "../src/index.js";
import { eventually } from "@sessionbridge/testing";
import { allProducts, openDatabase, productById, renameProduct, seedProducts, type Database, type Product } from "./database.js";

/**
 * The behaviour every backend gives the cache, against a real database. `backend()` returns a backend
 * that reaches the same data each time (a new connection on Redis and Memcached; the same in-process
 * store for memory), so several caches stand for several instances of an application.
 */
export interface CacheTarget {
  name: string;
  backend(): Backend | Promise<Backend>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function cacheSuite(target: CacheTarget): void {
  describe(`cache on ${target.name}`, () => {
    let db: Database;
    const opened: Array<{ close(): Promise<void> }> = [];

    beforeAll(async () => {
      db = await openDatabase();
      await seedProducts(db);
    });
    afterAll(async () => {
      await db?.close();
    });
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((cache) => cache.close()));
    });

    async function open<V = Product>(prefix: string, options: Partial<CacheOptions<V>> = {}): Promise<Cache<V>> {
      const cache = createCache<V>({ backend: await target.backend(), prefix, timeoutMs: 2000, jitter: 0, ...options });
      opened.push(cache);
      return cache;
    }
    const freshPrefix = () => `cache:t-${randomBytes(4).toString("hex")}:`;

    /** A loader reading one product, counting its calls in `count`. */
    function productLoader(id: number) {
      const loader = Object.assign(
        async () => {
          loader.count++;
          return productById(db, id);
        },
        { count: 0 },
      );
      return loader;
    }

    it("lazy loading: a miss runs the loader once and caches its value; the next read is a hit", async () => {
      const cache = await open(freshPrefix());
      const load = productLoader(1);
      expect(await cache.lookup("product:1", load)).toEqual({ value: { id: 1, name: "Product 1", price_cents: 100, version: 1 }, source: "miss" });
      expect(await cache.lookup("product:1", load)).toEqual({ value: { id: 1, name: "Product 1", price_cents: 100, version: 1 }, source: "hit" });
      expect(load.count).toBe(1);
    });

    it("single flight: 200 concurrent misses of one key in one process run the loader once", async () => {
      const cache = await open(freshPrefix());
      const load = productLoader(2);
      const results = await Promise.all(Array.from({ length: 200 }, () => cache.lookup("product:2", load)));
      expect(load.count).toBe(1);
      expect(new Set(results.map((r) => r.value?.name))).toEqual(new Set(["Product 2"]));
      expect(results.filter((r) => r.source === "miss")).toHaveLength(1);
    });

    it("stampede: 1,000 concurrent misses over 3 instances cost one database query (the backend lock)", async () => {
      const prefix = freshPrefix();
      const instances = await Promise.all([open(prefix), open(prefix), open(prefix)]);
      const before = db.queries;
      const results = await Promise.all(Array.from({ length: 1000 }, (_, i) => (instances[i % 3] as Cache<Product>).getOrLoad("product:3", () => productById(db, 3))));
      expect(db.queries - before).toBe(1);
      expect(results.every((row) => row?.name === "Product 3")).toBe(true);
    });

    it("write-through: after a database write, set() makes every instance read the new row without a query", async () => {
      const prefix = freshPrefix();
      const [a, b] = await Promise.all([open(prefix, { versionOf: (row: Product) => row.version }), open(prefix, { versionOf: (row: Product) => row.version })]);
      await a.getOrLoad("product:4", () => productById(db, 4));
      const row = await renameProduct(db, 4, "Renamed 4");
      expect(await a.set("product:4", row)).toBe("written");
      const load = productLoader(4);
      expect(await b.lookup("product:4", load)).toEqual({ value: row, source: "hit" });
      expect(load.count).toBe(0);
    });

    it("write-through: a slower, older write never overwrites a newer value", async () => {
      const cache = await open(freshPrefix());
      expect(await cache.set("product:5", { id: 5, name: "new", price_cents: 1, version: 7 }, { version: 7 })).toBe("written");
      expect(await cache.set("product:5", { id: 5, name: "old", price_cents: 1, version: 6 }, { version: 6 })).toBe("older");
      expect((await cache.get("product:5"))?.name).toBe("new");
      const writes = await cache.setMany([
        { key: "product:5", value: { id: 5, name: "newer", price_cents: 1, version: 9 }, version: 9 },
        { key: "product:5", value: { id: 5, name: "in between", price_cents: 1, version: 8 }, version: 8 },
      ]);
      expect(writes.filter((w) => w === "written").length).toBeGreaterThanOrEqual(1);
      expect((await cache.get("product:5"))?.name).toBe("newer");
    });

    it("write-through: a lazy fill that read the database before a write does not overwrite the written value", async () => {
      const cache = await open(freshPrefix(), { versionOf: (row: Product) => row.version });
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      let readOldRow = false;
      const slowFill = cache.getOrLoad("product:1", async () => {
        const row = await productById(db, 1);
        readOldRow = true;
        await gate; // the database is written while this fill is in flight
        return row;
      });
      await eventually("the fill read the row", () => readOldRow);
      const written = await renameProduct(db, 1, "Written while a fill was in flight");
      expect(await cache.set("product:1", written)).toBe("written");
      release();
      await slowFill;
      expect(await cache.get("product:1")).toEqual(written);
    });

    it("delete by key: the next read loads again", async () => {
      const cache = await open(freshPrefix());
      const load = productLoader(2);
      await cache.getOrLoad("product:2", load);
      expect(await cache.delete("product:2")).toBe(1);
      expect((await cache.lookup("product:2", load)).source).toBe("miss");
      expect(load.count).toBe(2);
    });

    it("invalidation by tag: changing one product invalidates the cached list on every instance", async () => {
      const prefix = freshPrefix();
      const [a, b] = await Promise.all([open<Product[]>(prefix), open<Product[]>(prefix)]);
      let listQueries = 0;
      const list = () => {
        listQueries++;
        return allProducts(db);
      };
      await a.getOrLoad("products:all", list, { tags: ["products"] });
      expect((await b.lookup("products:all", list, { tags: ["products"] })).source).toBe("hit");
      await renameProduct(db, 3, "Tagged rename");
      await a.invalidateTag("products");
      const after = await b.lookup("products:all", list, { tags: ["products"] });
      expect(after.source).toBe("miss");
      expect(after.value?.find((p) => p.id === 3)?.name).toBe("Tagged rename");
      // A reader that does not name the tags still honours the entry's own.
      await a.invalidateTag("products");
      expect(await b.get("products:all")).toBeUndefined();
      expect(listQueries).toBe(2);
    });

    it("negative caching: 'not found' is cached for negativeTtlMs, separately from values", async () => {
      const cache = await open(freshPrefix(), { negativeTtlMs: 60_000 });
      const load = productLoader(999);
      expect(await cache.lookup("product:999", load)).toEqual({ value: undefined, source: "miss" });
      expect(await cache.lookup("product:999", load)).toEqual({ value: undefined, source: "hit" });
      expect(load.count).toBe(1);
      const uncached = await open(freshPrefix());
      await uncached.getOrLoad("product:999", load);
      await uncached.getOrLoad("product:999", load);
      expect(load.count).toBe(3);
    });

    it("stale-while-revalidate: an expired entry is served at once while one caller refreshes it", async () => {
      const cache = await open(freshPrefix(), { ttlMs: 1, staleMs: 600_000 });
      const load = productLoader(4);
      await cache.getOrLoad("product:4", load);
      await sleep(5); // past the 1 ms TTL
      const stale = await cache.lookup("product:4", load);
      expect(stale.source).toBe("stale");
      await eventually("the background refresh ran", () => load.count === 2);
    });

    it("grace: while the database fails, the stale value is served instead of the error", async () => {
      const cache = await open(freshPrefix(), { ttlMs: 1, graceMs: 600_000 });
      await cache.getOrLoad("product:2", () => productById(db, 2));
      await sleep(5);
      const failing = async (): Promise<Product> => {
        throw new Error("connection to the database refused");
      };
      expect(await cache.lookup("product:2", failing)).toMatchObject({ value: { id: 2 }, source: "grace" });
      const noGrace = await open(freshPrefix(), { ttlMs: 1 });
      await noGrace.getOrLoad("product:2", () => productById(db, 2));
      await sleep(5);
      await expect(noGrace.getOrLoad("product:2", failing)).rejects.toThrow("connection to the database refused");
    });

    it("a loader past loaderTimeoutMs fails with TIMEOUT and is told through its AbortSignal", async () => {
      const cache = await open(freshPrefix(), { loaderTimeoutMs: 50 });
      let aborted = false;
      const hung = ({ signal }: { signal: AbortSignal }) =>
        new Promise<Product>(() => {
          signal.addEventListener("abort", () => (aborted = true));
        });
      await expect(cache.getOrLoad("product:1", hung)).rejects.toMatchObject({ code: "TIMEOUT" });
      expect(aborted).toBe(true);
    });

    it("a value that cannot be decoded is a miss (and reported), never an error", async () => {
      const prefix = freshPrefix();
      const backend = await target.backend();
      await backend.set(`${prefix}product:3`, "sbc1:not-a-valid-entry", 60_000);
      await backend.close();
      const cache = await open(prefix);
      const corrupt: string[] = [];
      cache.on("corrupt", (key) => corrupt.push(key));
      expect((await cache.lookup("product:3", () => productById(db, 3))).source).toBe("miss");
      expect(corrupt).toEqual(["product:3"]);
      expect((await cache.lookup("product:3", () => productById(db, 3))).source).toBe("hit");
    });

    it("encryption: stored values are sealed; a cache without the key reads them as misses", async () => {
      const prefix = freshPrefix();
      const key = randomBytes(32);
      const sealed = await open(prefix, { encryptionKeys: [{ id: "k1", key }] });
      await sealed.getOrLoad("product:5", () => productById(db, 5));
      const direct = await target.backend();
      const raw = await direct.get(`${prefix}product:5`);
      await direct.close();
      expect(raw).not.toBeNull();
      expect(raw).not.toContain("Product 5");
      expect((await sealed.lookup("product:5", () => productById(db, 5))).source).toBe("hit");
      const other = await open(prefix, { encryptionKeys: [{ id: "k1", key: randomBytes(32) }] });
      expect((await other.lookup("product:5", () => productById(db, 5))).source).toBe("miss");
    });
  });
}
