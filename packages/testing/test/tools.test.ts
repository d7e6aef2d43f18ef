import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomBytes } from "node:crypto";
import { createSessionStore, type SessionStore } from "@sessionbridge/core";
import { readStored, storedKeys, writeStored, type ListedKey } from "@sessionbridge/core/tools";
import { eventually, startMemcached, startRedis, type MemcachedServer, type RedisServer } from "../src/index.js";

/**
 * The raw access the `sessionbridge` export / import commands use (@sessionbridge/core/tools), on a real
 * redis-server and memcached: listing without the per-user index, reading without sliding the TTL,
 * sealed values staying sealed without keys, and writes keeping the expiry.
 */

const keys = [{ id: "k1", key: randomBytes(32).toString("base64") }];
const keySecret = "x".repeat(32);
const HOUR = 3_600_000;

let redis: RedisServer;
let memcached: MemcachedServer;
let sasl: MemcachedServer;
const stores: SessionStore[] = [];
const track = (store: SessionStore) => (stores.push(store), store);

beforeAll(async () => {
  [redis, memcached, sasl] = await Promise.all([startRedis(), startMemcached(), startMemcached({ sasl: { username: "app", password: "pw-secret" } })]);
});
afterAll(async () => {
  await Promise.all(stores.map((store) => store.close()));
  await Promise.all([redis?.dispose(), memcached?.dispose(), sasl?.dispose()]);
});

async function listAll(store: SessionStore, unlisted?: { count: number }): Promise<ListedKey[]> {
  const all: ListedKey[] = [];
  for await (const batch of storedKeys(store, unlisted)) all.push(...batch);
  return all;
}

describe("raw access to stored sessions on Redis", () => {
  it("lists sessions without the per-user index and reads them without sliding their TTL", async () => {
    const store = track(createSessionStore({ url: redis.url, prefix: "t1:", encryptionKeys: keys, keySecret, userIdFrom: (data) => data.user as string }));
    const before = Date.now();
    await store.set("id-a", { user: "ada" }, { ttlMs: HOUR });
    await store.set("id-b", { user: "bob" }, { ttlMs: 2 * HOUR });
    const listed = await listAll(store);
    expect(listed).toHaveLength(2); // the two user index keys are left out
    const read = await Promise.all(listed.map((entry) => readStored(store, entry)));
    const expiries = read.map((r) => r?.session.expiresAtMs as number).sort((a, b) => a - b);
    expect(expiries[0]).toBeGreaterThanOrEqual(before + HOUR - 1);
    expect(expiries[0]).toBeLessThanOrEqual(Date.now() + HOUR);
    expect(expiries[1]).toBeGreaterThanOrEqual(before + 2 * HOUR - 1);
    expect(read.every((r) => r?.state === "clear" && r.session.value.includes(":e1.k1."))).toBe(true); // sealed as stored
    const fullKey = `t1:${(listed[0] as ListedKey).key}`;
    const left = (await store.backend.remainingTtl?.(fullKey)) as number;
    await readStored(store, listed[0] as ListedKey);
    expect(await store.backend.remainingTtl?.(fullKey)).toBeLessThanOrEqual(left); // the read did not slide it
  });

  it("opens sealed values only for a store that has the keys", async () => {
    const withKeys = track(createSessionStore({ url: redis.url, prefix: "t2:", encryptionKeys: keys }));
    const without = track(createSessionStore({ url: redis.url, prefix: "t2:" }));
    await withKeys.set("id-c", { secret: "launch codes" });
    const [entry] = await listAll(without);
    const sealed = await readStored(without, entry as ListedKey, { open: true });
    expect(sealed?.state).toBe("sealed");
    expect(sealed?.session.value).not.toContain("launch codes");
    const opened = await readStored(withKeys, entry as ListedKey, { open: true });
    expect(opened?.state).toBe("clear");
    expect(opened?.session.value).toContain("launch codes");
  });

  it("writes an exported session under another prefix with its expiry and index; sealed ones need the keys", async () => {
    const source = track(createSessionStore({ url: redis.url, prefix: "t3:", encryptionKeys: keys, userIdFrom: (data) => data.user as string }));
    await source.set("id-d", { user: "dan" }, { ttlMs: HOUR });
    const [entry] = await listAll(source);
    const exported = (await readStored(source, entry as ListedKey))?.session;
    if (exported === undefined) throw new Error("not read");

    const noKeys = track(createSessionStore({ url: redis.url, prefix: "t4:" }));
    expect(await writeStored(noKeys, exported, { sourcePrefix: "t3:" })).toBe("sealed");

    const target = track(createSessionStore({ url: redis.url, prefix: "t5:", encryptionKeys: keys, userIdFrom: (data) => data.user as string }));
    expect(await writeStored(target, exported, { sourcePrefix: "t3:" })).toBe("written");
    const loaded = await target.load("id-d");
    expect(loaded?.data).toEqual({ user: "dan" });
    expect((await target.sessionsOf("dan")).length).toBe(1);
    expect(await writeStored(target, exported, { sourcePrefix: "t3:" })).toBe("exists");
    expect(await writeStored(target, { ...exported, expiresAtMs: Date.now() - 1 }, { sourcePrefix: "t3:" })).toBe("expired");
    expect(await writeStored(target, { ...exported, value: "not a session" }, { sourcePrefix: "t3:", overwrite: true })).toBe("corrupt");
  });
});

describe("raw access to stored sessions on Memcached", () => {
  it("lists keys with their expiry through lru_crawler metadump, including ids that need encoding", async () => {
    const store = track(createSessionStore({ url: memcached.url, prefix: "m1:" }));
    const before = Date.now();
    await store.set("plain-id", { n: 1 }, { ttlMs: HOUR });
    await store.set("id with spaces é", { n: 2 }, { ttlMs: HOUR });
    await store.set("x".repeat(256), { n: 3 }, { ttlMs: HOUR }); // over 250 bytes: stored hashed
    const unlisted = { count: 0 };
    const listed = await listAll(store, unlisted);
    expect(listed.map((entry) => entry.key).sort()).toEqual(["id with spaces é", "plain-id"]);
    expect(unlisted.count).toBe(1);
    for (const entry of listed) {
      // memcached keeps expiry in whole seconds
      expect(entry.expiresAtMs).toBeGreaterThanOrEqual(before + HOUR - 2000);
      expect(entry.expiresAtMs).toBeLessThanOrEqual(Date.now() + HOUR + 1000);
      expect((await readStored(store, entry))?.state).toBe("clear");
    }
  });

  it("closes the listing's connection when its consumer stops early (an export that fails half way)", async () => {
    const store = track(createSessionStore({ url: memcached.url, prefix: "m2:" }));
    for (let i = 0; i < 1200; i += 100) await Promise.all(Array.from({ length: 100 }, (_, j) => store.set(`s${i + j}`, { n: i + j }, { ttlMs: HOUR })));
    const connections = async () => (await memcached.stats()).curr_connections as number;
    const idle = await connections();
    for await (const batch of storedKeys(store)) {
      expect(batch.length).toBeGreaterThan(0);
      expect(await connections()).toBe(idle + 1); // the metadump's own connection
      break;
    }
    await eventually("the metadump connection is closed", async () => (await connections()) === idle);
  });

  it("says plainly that a SASL server cannot list its keys", async () => {
    const store = track(createSessionStore({ url: sasl.url }));
    await expect(listAll(store)).rejects.toThrow(/SASL.*binary protocol.*lru_crawler metadump/);
  });
});
