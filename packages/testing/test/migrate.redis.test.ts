import session from "express-session";
import { Redis } from "ioredis";
import { createClient } from "redis";
import { RedisStore as ConnectRedis9 } from "connect-redis";
import { RedisStore as ConnectRedis8 } from "connect-redis-8";
import koaRedis from "koa-redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSessionStore, type SessionStore, type SessionStoreOptions } from "@sessionbridge/core";
import { startAdapterBackend, testClient, type AdapterBackend } from "../src/index.js";
import { MAX_AGE_MS } from "./migrate.apps.js";
import { describeSwitching, type Incumbent } from "./migrate.switching.js";

/**
 * Switching from connect-redis (8 with ioredis, 9 with node-redis) and koa-redis: sessions written by the
 * real incumbent package on a real redis-server, then read through our adapters with `migrateFrom`.
 */

const connectRedis8 = async (url: string) => {
  const client = testClient(url);
  return { store: new ConnectRedis8({ client }), close: async () => void client.disconnect() };
};
const connectRedis9 = async (url: string) => {
  const client = createClient({ url });
  await client.connect();
  return { store: new ConnectRedis9({ client }), close: async () => void (await client.quit()) };
};

const INCUMBENTS: Incumbent[] = [
  { name: "connect-redis 8 (ioredis) with express-session", format: "connect-redis", framework: "express", key: (id) => `sess:${id}`, open: connectRedis8 },
  { name: "connect-redis 9 (node-redis) with express-session", format: "connect-redis", framework: "express", key: (id) => `sess:${id}`, open: connectRedis9 },
  { name: "connect-redis 8 (ioredis) with @fastify/session", format: "connect-redis", framework: "fastify", key: (id) => `sess:${id}`, open: connectRedis8 },
  { name: "connect-redis 9 (node-redis) with @fastify/session", format: "connect-redis", framework: "fastify", key: (id) => `sess:${id}`, open: connectRedis9 },
  {
    name: "koa-redis with koa-session",
    format: "koa-redis",
    framework: "koa",
    key: (id) => id,
    open: async (url) => {
      const store = koaRedis({ url }) as unknown as { client: Redis };
      return { store, close: async () => void store.client.disconnect() };
    },
  },
];

let backend: AdapterBackend;
const exists = async (key: string) => Number(await redisCommand("EXISTS", key)) === 1;
let admin: Redis;
const redisCommand = (...args: [string, ...string[]]) => admin.call(...args);

beforeAll(async () => {
  backend = await startAdapterBackend("redis");
  admin = testClient(backend.url as string);
});
afterAll(async () => {
  admin?.disconnect();
  await backend?.dispose();
});

describeSwitching({ backend: () => backend, exists, incumbents: INCUMBENTS, oneRead: { getex: 1 }, firstRead: { getex: 1, get: 1, set: 1, unlink: 1 } });

describe("moving connect-redis sessions, store level", () => {
  let old: Awaited<ReturnType<typeof connectRedis8>>;
  let write: (id: string, sess: session.SessionData) => Promise<void>;
  beforeAll(async () => {
    old = await connectRedis8(backend.url as string);
    const store = old.store as session.Store;
    write = (id, sess) => new Promise((resolve, reject) => store.set(id, sess, (error) => (error ? reject(error) : resolve())));
  });
  afterAll(() => old?.close());

  const expressSession = (user: string) => ({ cookie: { originalMaxAge: MAX_AGE_MS, expires: new Date(Date.now() + MAX_AGE_MS), httpOnly: true, path: "/" }, user }) as unknown as session.SessionData;
  const stores: SessionStore[] = [];
  afterAll(async () => void (await Promise.all(stores.map((s) => s.close()))));
  const store = (options: Partial<SessionStoreOptions> = {}) => {
    const created = createSessionStore({ url: backend.url as string, prefix: "two:", migrateFrom: { format: "connect-redis" }, ...options });
    stores.push(created);
    return created;
  };

  it("neither loses nor duplicates it: both read it, one copy exists, with hashed keys, encryption and the user index", async () => {
    const options: Partial<SessionStoreOptions> = {
      keySecret: "k".repeat(32),
      encryptionKeys: [{ id: "1", key: Buffer.alloc(32, 7) }],
      userIdFrom: (data) => data.user,
    };
    const [a, b] = [store(options), store(options)];
    for (let round = 0; round < 10; round++) {
      const id = `race-${round}`;
      await write(id, expressSession(`user${round}`));
      const [fromA, fromB] = await Promise.all([a.load(id), b.load(id)]);
      expect(fromA?.data).toEqual({ user: `user${round}` });
      expect(fromB?.data).toEqual({ user: `user${round}` });
      expect(fromA?.version).toBe(fromB?.version);
      expect(await exists(`sess:${id}`)).toBe(false);
      expect(await exists(`two:${id}`)).toBe(false); // hashed, not the raw id
      expect((await a.sessionsOf(`user${round}`)).length).toBe(1);
      expect(await a.destroySessionsOf(`user${round}`)).toBe(1);
      expect(await b.load(id)).toBeNull();
    }
  });

  it("keeps a logout that happens during the move: the copy is deleted again", async () => {
    const id = "logout-during-move";
    await write(id, expressSession("grace"));
    // The incumbent's value is parsed after it was read and before the copy is written: an old instance's
    // logout lands exactly there.
    const racing = store({
      migrateFrom: {
        format: "connect-redis",
        serializer: {
          parse: async (text: string) => {
            await redisCommand("DEL", `sess:${id}`);
            return JSON.parse(text) as unknown;
          },
        },
      },
    });
    expect(await racing.load(id)).toBeNull();
    expect(await exists(`two:${id}`)).toBe(false);
    expect(await racing.load(id)).toBeNull();
  });

  it("keeps the remaining TTL, idle timeout and cookie expiry the incumbent stored", async () => {
    const id = "remaining";
    const expires = new Date(Date.now() + MAX_AGE_MS - 30_000); // written 30 s ago with a 2-hour maxAge
    await write(id, { cookie: { originalMaxAge: MAX_AGE_MS, expires, httpOnly: true, path: "/" }, user: "ttl" } as unknown as session.SessionData);
    // With lazy touch (not due yet) the read does not slide the TTL: the key keeps what the incumbent left.
    const loaded = await store({ touchAfterMs: 60_000 }).load(id);
    expect(loaded?.ttlMs).toBe(MAX_AGE_MS);
    expect(loaded?.writtenExpiresAtMs).toBe(expires.getTime());
    expect(loaded?.expiresAtMs).toBe(expires.getTime());
    expect(loaded?.browserSession).toBeUndefined();
    const pttl = Number(await redisCommand("PTTL", `two:${id}`));
    expect(pttl).toBeLessThanOrEqual(expires.getTime() - Date.now() + 50);
    expect(pttl).toBeGreaterThan(MAX_AGE_MS - 60_000);
  });

  it("gives a browser-session cookie (no expiry in the value) the store's ttlMs", async () => {
    await write("browser-session", { cookie: { originalMaxAge: null, expires: null, httpOnly: true, path: "/" }, user: "b" } as unknown as session.SessionData);
    const loaded = await store({ ttlMs: 600_000 }).load("browser-session");
    expect(loaded?.data).toEqual({ user: "b" });
    expect(loaded?.ttlMs).toBe(600_000);
    // ... and it stays a browser-session cookie in every adapter (issue 11 item 12).
    expect(loaded?.browserSession).toBe(true);
  });

  it("keeps koa-redis's browser-session mark (_session) on the moved record", async () => {
    await redisCommand("SET", "koa-browser", JSON.stringify({ views: 3, _session: true }), "EX", "60");
    const koaReader = store({ prefix: "three:", migrateFrom: { format: "koa-redis" } });
    const loaded = await koaReader.load("koa-browser");
    expect(loaded?.data).toEqual({ views: 3 });
    expect(loaded?.browserSession).toBe(true);
  });

  it("treats an incumbent session whose cookie has expired as no session, and leaves it to its TTL", async () => {
    await redisCommand("SET", "sess:stale", JSON.stringify({ cookie: { originalMaxAge: 1000, expires: new Date(Date.now() - 5000) }, user: "old" }), "EX", "60");
    const reader = store();
    expect(await reader.load("stale")).toBeNull();
    expect(await reader.migrate("stale")).toBe("expired");
    expect(await exists("sess:stale")).toBe(true);
  });

  it("reads a custom incumbent serializer", async () => {
    const serializer = { stringify: (s: unknown) => Buffer.from(JSON.stringify(s)).toString("base64"), parse: (text: string) => JSON.parse(Buffer.from(text, "base64").toString("utf8")) as session.SessionData };
    const client = testClient(backend.url as string);
    const custom = new ConnectRedis8({ client, prefix: "custom:", serializer });
    await new Promise<void>((resolve, reject) => custom.set("c1", expressSession("linus"), (error) => (error ? reject(error) : resolve())));
    client.disconnect();
    const reader = store({ migrateFrom: { format: "connect-redis", prefix: "custom:", serializer } });
    expect((await reader.load("c1"))?.data).toEqual({ user: "linus" });
    expect(await exists("custom:c1")).toBe(false);
  });

  it("lists the incumbent's ids and moves them one by one (the bulk API), reporting what it did", async () => {
    await redisCommand("SET", "bulk:junk", "not json");
    await redisCommand("SET", "bulk:other", JSON.stringify({ some: "cache entry" }));
    // Another type of value under the incumbent's prefix (a queue: koa-redis's default prefix is "").
    await redisCommand("RPUSH", "bulk:queue", "job");
    const bulk = store({ prefix: "bulkours:", migrateFrom: { format: "connect-redis", prefix: "bulk:" } });
    const client = testClient(backend.url as string);
    const writer = new ConnectRedis8({ client, prefix: "bulk:" });
    for (const id of ["b1", "b2", "b3"]) await new Promise<void>((resolve, reject) => writer.set(id, expressSession(id), (error) => (error ? reject(error) : resolve())));
    client.disconnect();
    const ids: string[] = [];
    for await (const id of bulk.migrateSource!.ids()) ids.push(id);
    expect(ids.sort()).toEqual(["b1", "b2", "b3", "junk", "other", "queue"]);
    const outcomes = Object.fromEntries(await Promise.all(ids.map(async (id) => [id, await bulk.migrate(id)] as const)));
    expect(outcomes).toEqual({ b1: "moved", b2: "moved", b3: "moved", junk: "unreadable", other: "unreadable", queue: "unreadable" });
    expect(await bulk.migrate("b1")).toBe("present");
    expect(await bulk.migrate("nobody")).toBe("absent");
    // Read through a request, a value that is not a session is "no session" and a 'corrupt' event.
    const corrupt: unknown[] = [];
    bulk.on("corrupt", (error) => corrupt.push(error));
    expect(await bulk.load("junk")).toBeNull();
    expect(corrupt).toHaveLength(1);
    expect(await bulk.load("queue")).toBeNull();
    expect(corrupt).toHaveLength(2);
    expect(await redisCommand("GET", "bulk:junk")).toBe("not json");
    expect(await redisCommand("LRANGE", "bulk:queue", "0", "-1")).toEqual(["job"]);
    // Values that are not sessions are left alone.
    expect(await redisCommand("GET", "bulk:other")).toBe(JSON.stringify({ some: "cache entry" }));
    expect((await bulk.load("b2"))?.data).toEqual({ user: "b2" });
    expect(await bulk.length()).toBe(3);
  });

  it("refuses a migrateFrom prefix that meets the store's own on one backend, naming the option", () => {
    expect(() => store({ prefix: "sess:" })).toThrow(/migrateFrom\.prefix/);
    expect(() => store({ prefix: "sess:", migrateFrom: { format: "connect-redis", prefix: "sess:x" } })).toThrow(/migrateFrom\.prefix/);
    expect(() => store({ migrateFrom: { format: "connect-mongo" as never } })).toThrow(/migrateFrom\.format/);
    expect(() => store({ migrateFrom: { format: "connect-redis", keepSource: "yes" as never } })).toThrow(/migrateFrom\.keepSource/);
  });
});
