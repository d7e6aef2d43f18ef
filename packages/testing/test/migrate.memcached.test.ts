import session from "express-session";
import connectMemcached from "connect-memcached";
import connectMemjs from "connect-memjs";
import memjs from "memjs";
import { afterAll, beforeAll } from "vitest";
import { startAdapterBackend, type AdapterBackend } from "../src/index.js";
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
describeSwitching({ backend: () => backend, exists, incumbents: INCUMBENTS, oneRead: { touch: 1 } });
