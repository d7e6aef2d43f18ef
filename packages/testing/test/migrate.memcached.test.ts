import session from "express-session";
import connectMemcached from "connect-memcached";
import connectMemjs from "connect-memjs";
import memjs from "memjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSessionStore } from "@sessionbridge/core";
import { startAdapterBackend, startMemcachedNodes, type AdapterBackend } from "../src/index.js";
import { Browser, startApp } from "./migrate.apps.js";
import { describeSwitching, type Incumbent } from "./migrate.switching.js";

/**
 * Switching from connect-memjs and connect-memcached: sessions written by the real incumbent package on a
 * real memcached, then read through our express and Fastify adapters with `migrateFrom`.
 */

const hostOf = (url: string) => new URL(url).host;

const memjsStore = async (url: string) => {
  const Store = connectMemjs(session);
  const store = new Store({ servers: [hostOf(url)] }) as { client: memjs.Client };
  return { store, close: async () => store.client.close() };
};
const memcachedStore = async (url: string) => {
  const Store = connectMemcached(session);
  const store = new Store({ hosts: [hostOf(url)] }) as { client: { end(): void } };
  return { store, close: async () => store.client.end() };
};

const INCUMBENTS: Incumbent[] = [
  { name: "connect-memjs with express-session", format: "connect-memjs", framework: "express", key: (id) => id, open: memjsStore },
  { name: "connect-memjs with @fastify/session", format: "connect-memjs", framework: "fastify", key: (id) => id, open: memjsStore },
  { name: "connect-memcached with express-session", format: "connect-memcached", framework: "express", key: (id) => id, open: memcachedStore },
  { name: "connect-memcached with @fastify/session", format: "connect-memcached", framework: "fastify", key: (id) => id, open: memcachedStore },
];

let backend: AdapterBackend;
let admin: memjs.Client;
const exists = async (key: string) => (await admin.get(key)).value !== null;

beforeAll(async () => {
  backend = await startAdapterBackend("memcached");
  admin = memjs.Client.create(hostOf(backend.url as string));
});
afterAll(async () => {
  admin?.close();
  await backend?.dispose();
});

// GAT is counted under "touch" in memcached's stats.
describeSwitching({ backend: () => backend, exists, incumbents: INCUMBENTS, oneRead: { touch: 1 }, firstRead: { touch: 1, get: 1, set: 1, delete: 1 } });

describe("from connect-memjs on Memcached to sessionbridge on Redis (migrateFrom.url)", () => {
  it("keeps the user logged in, moves the session to Redis and deletes it from Memcached", async () => {
    const redis = await startAdapterBackend("redis");
    const old = await memjsStore(backend.url as string);
    const oldApp = await startApp("express", { incumbent: old.store });
    const store = createSessionStore({ url: redis.url as string, migrateFrom: { format: "connect-memjs", url: backend.url as string } });
    const app = await startApp("express", { ours: store });
    try {
      const browser = new Browser();
      await browser.send(oldApp, "POST", "/login");
      const id = browser.sessionId("express");
      expect(await exists(id)).toBe(true);
      expect(await browser.me(app)).toMatchObject({ user: "ada", views: 1 });
      expect(await exists(id)).toBe(false);
      expect((await store.load(id))?.data).toEqual({ user: "ada", views: 1 });
    } finally {
      await Promise.all([app.close(), oldApp.close()]);
      await store.close(); // also closes the Memcached connection it opened from migrateFrom.url
      await old.close();
      await redis.dispose();
    }
  });
});

describe("from an incumbent on several Memcached nodes (migrateFrom.servers)", () => {
  const expressSession = (user: string) => ({ cookie: { originalMaxAge: 3_600_000, expires: new Date(Date.now() + 3_600_000), httpOnly: true, path: "/" }, user }) as unknown as session.SessionData;

  it.each([
    { name: "connect-memjs", format: "connect-memjs" as const, open: (hosts: string[]) => new (connectMemjs(session))({ servers: hosts }) as session.Store & { client: { close(): void } }, close: (s: { client: unknown }) => (s.client as memjs.Client).close() },
    { name: "connect-memcached", format: "connect-memcached" as const, open: (hosts: string[]) => new (connectMemcached(session))({ hosts }) as session.Store & { client: unknown }, close: (s: { client: unknown }) => (s.client as { end(): void }).end() },
  ])("finds every $name session whichever node the incumbent's own hashing put it on, and moves it", async ({ format, open, close }) => {
    const [nodes, redis] = await Promise.all([startMemcachedNodes(2), startAdapterBackend("redis")]);
    const hosts = nodes.map((node) => node.address);
    const incumbent = open(hosts);
    const admins = hosts.map((host) => memjs.Client.create(host));
    const store = createSessionStore({ url: redis.url as string, migrateFrom: { format, servers: hosts } });
    try {
      const ids = Array.from({ length: 16 }, (_, i) => `spread-${i}`);
      for (const id of ids) await new Promise<void>((resolve, reject) => incumbent.set(id, expressSession(id), (error) => (error ? reject(error) : resolve())));
      const perNode = async () => Promise.all(admins.map(async (admin) => (await Promise.all(ids.map(async (id) => (await admin.get(id)).value !== null))).filter(Boolean).length));
      const spread = await perNode();
      expect(spread.every((count) => count > 0)).toBe(true); // the incumbent used both nodes
      expect(spread.reduce((a, b) => a + b, 0)).toBe(ids.length);
      for (const id of ids) expect((await store.load(id))?.data).toEqual({ user: id });
      expect(await perNode()).toEqual([0, 0]);
    } finally {
      close(incumbent);
      for (const admin of admins) admin.close();
      await store.close();
      await Promise.all([...nodes.map((node) => node.dispose()), redis.dispose()]);
    }
  });
});
