import session from "express-session";
import connectMemcached from "connect-memcached";
import connectMemjs from "connect-memjs";
import memjs from "memjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSessionStore } from "@sessionbridge/core";
import { startAdapterBackend, type AdapterBackend } from "../src/index.js";
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
