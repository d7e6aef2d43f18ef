import { createHmac } from "node:crypto";
import { connect } from "node:net";
import { createClient } from "redis";
import { createSessionStore, memoryBackend, redisBackend, type Backend, type SessionStore, type SessionStoreOptions } from "@sessionbridge/core";
import { startMemcached } from "./memcached.js";
import { startRedis } from "./redis.js";
export { eventually } from "./wait.js";

/**
 * One backend for the framework adapter tests (express, fastify, koa), started for a test file:
 * the memory backend, a real redis-server or a real memcached. Every `createStore` call makes a new
 * core store with its own client, like another instance of the web tier behind a load balancer.
 */
export type AdapterBackendKind = "memory" | "redis" | "memcached" | "redis-node";

export const ADAPTER_BACKENDS: readonly AdapterBackendKind[] = ["memory", "redis", "memcached"];

/**
 * "redis-node": the same real redis-server, each store through its own node-redis client (createClient,
 * connected by the harness as a user would), so an adapter's suite can run once on node-redis too.
 */
export const NODE_REDIS_ADAPTER_BACKEND: AdapterBackendKind = "redis-node";

export interface AdapterBackend {
  readonly kind: AdapterBackendKind;
  /** The server's URL (real servers only), for clients other than ours (the incumbents in the migration tests). */
  readonly url?: string;
  /** A new core store (new client) on this backend. Closed by `dispose`. */
  createStore(options?: Omit<SessionStoreOptions, "backend" | "url">): SessionStore;
  /** Stops the server (real servers only), keeping its port for `restart`. */
  stop?(): Promise<void>;
  restart?(): Promise<void>;
  /** SIGSTOP / SIGCONT (real servers only): the server keeps its socket and its data but answers nothing. */
  pause?(): void;
  resume?(): void;
  /**
   * Commands the server has run since it started, by name: Redis from `INFO commandstats` (getex, get,
   * set, …), memcached from `stats` (get, set, touch — which counts GAT —, delete).
   */
  commandCalls?(): Promise<Map<string, number>>;
  /** Closes every store made here and stops the server. */
  dispose(): Promise<void>;
}

export async function startAdapterBackend(kind: AdapterBackendKind): Promise<AdapterBackend> {
  const stores: SessionStore[] = [];
  const track = (store: SessionStore): SessionStore => {
    stores.push(store);
    return store;
  };
  const closeStores = async () => {
    await Promise.all(stores.splice(0).map((store) => store.close()));
  };
  if (kind === "memory") {
    // Instances of one process share the one in-memory backend; closing a store must not close it.
    const shared = memoryBackend();
    const view: Backend = Object.assign(Object.create(shared) as Backend, { close: async () => undefined });
    return {
      kind,
      createStore: (options = {}) => track(createSessionStore({ ...options, backend: view })),
      dispose: async () => {
        await closeStores();
        await shared.close();
      },
    };
  }
  const server = kind === "redis" || kind === "redis-node" ? await startRedis() : await startMemcached();
  const nodeClients: Array<ReturnType<typeof createClient>> = [];
  const storeOn = (options: Omit<SessionStoreOptions, "backend" | "url">): SessionStore => {
    if (kind !== "redis-node") return createSessionStore({ ...options, url: server.url });
    const client = createClient({ url: server.url, disableOfflineQueue: true, socket: { reconnectStrategy: (retries: number) => Math.min(20 * 2 ** retries, 500) } });
    client.on("error", () => undefined);
    client.connect().catch(() => undefined); // the store waits for it (until an operation's deadline)
    nodeClients.push(client);
    return createSessionStore({ ...options, backend: redisBackend({ client }) });
  };
  const backend: AdapterBackend = {
    kind,
    url: server.url,
    createStore: (options = {}) => track(storeOn(options)),
    stop: () => server.stop(),
    restart: () => server.restart(),
    pause: () => server.pause(),
    resume: () => server.resume(),
    dispose: async () => {
      await closeStores();
      for (const client of nodeClients.splice(0)) if (client.isOpen) client.destroy();
      await server.dispose();
    },
  };
  if (kind === "memcached") {
    const memcached = server as Awaited<ReturnType<typeof startMemcached>>;
    backend.commandCalls = async () => {
      const stats = await memcachedStats(memcached.port);
      const n = (name: string) => stats.get(name) ?? 0;
      return new Map([
        ["get", n("cmd_get")],
        ["set", n("cmd_set")],
        ["touch", n("cmd_touch")],
        ["delete", n("delete_hits") + n("delete_misses")],
      ]);
    };
  }
  if (kind === "redis" || kind === "redis-node") {
    const redis = server as Awaited<ReturnType<typeof startRedis>>;
    backend.commandCalls = async () => {
      const info = String(await redis.command("INFO", "commandstats"));
      const calls = new Map<string, number>();
      for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(match[1] as string, Number(match[2]));
      return calls;
    };
  }
  return backend;
}

/** Calls per command between two `commandCalls()` snapshots, without the harness's own admin commands. */
export function commandsBetween(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const admin = new Set(["info", "hello", "client|setinfo", "client|setname", "auth", "select", "command|docs", "command"]);
  const diff: Record<string, number> = {};
  for (const [name, calls] of after) {
    const delta = calls - (before.get(name) ?? 0);
    if (delta > 0 && !admin.has(name)) diff[name] = delta;
  }
  return diff;
}

/**
 * The session id inside a signed session cookie `name=s%3A<id>.<signature>` (express-session, and
 * @fastify/session with `cookiePrefix: "s:"`, and the Koa adapter's compatible cookie).
 */
export function sessionIdFromCookie(name: string, setCookie: string[] | string | undefined): string {
  const header = (Array.isArray(setCookie) ? setCookie : [setCookie ?? ""]).find((c) => c.startsWith(`${name}=`));
  if (!header) throw new Error(`no ${name} cookie was set`);
  const value = decodeURIComponent(header.slice(name.length + 1).split(";")[0] as string);
  if (!value.startsWith("s:")) throw new Error(`the ${name} cookie is not an "s:" signed cookie`);
  return value.slice(2, value.lastIndexOf("."));
}

/** `name=value` pairs of the Set-Cookie headers, ready for a Cookie request header. */
export function cookieHeader(setCookie: string[] | string | undefined): string {
  return (Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : []).map((c) => c.split(";")[0]).join("; ");
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** `s:<id>.<signature>` as express-session signs it (cookie-signature: HMAC-SHA256, base64, no padding), URL-encoded. */
export function signedCookieValue(id: string, secret: string): string {
  const signature = createHmac("sha256", secret).update(id).digest("base64").replace(/=+$/, "");
  return encodeURIComponent(`s:${id}.${signature}`);
}

/** memcached's `stats` counters, over a short-lived text-protocol connection. */
async function memcachedStats(port: number): Promise<Map<string, number>> {
  const socket = connect({ host: "127.0.0.1", port });
  let text = "";
  socket.setEncoding("utf8");
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.on("data", (chunk: string) => {
      text += chunk;
      if (text.endsWith("END\r\n")) resolve();
    });
    socket.write("stats\r\n");
  }).finally(() => socket.destroy());
  const stats = new Map<string, number>();
  for (const match of text.matchAll(/^STAT (\S+) (\d+)\r$/gm)) stats.set(match[1] as string, Number(match[2]));
  return stats;
}
