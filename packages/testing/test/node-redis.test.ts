import { createClient } from "redis";
import { createClient as createClient6 } from "redis-6";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createSessionStore, isSessionStoreError, redisBackend, type SessionStore } from "@sessionbridge/core";
import { backendContract, eventually, rejection, uniquePrefix } from "../src/contract.js";
import { startRedis, type RedisServer } from "../src/redis.js";

/**
 * node-redis clients (the `redis` package, what connect-redis 9 takes) given as `client`: the shared
 * contract suite, and the guarantees that depend on the client: deadlines with the server stopped or
 * frozen, nothing sent late, one command per unmodified read, the caller's client left open.
 */

type NodeRedis = ReturnType<typeof createClient>;

let server: RedisServer;
const clients: NodeRedis[] = [];
const closers: Array<() => unknown> = [];

/** A caller's client as docs/redis-clients.md recommends; the test closes it (the store never does). */
async function nodeRedis(url = server.url, options: Parameters<typeof createClient>[0] = {}): Promise<NodeRedis> {
  const client = createClient({ url, disableOfflineQueue: true, socket: { reconnectStrategy: (retries: number) => Math.min(20 * 2 ** retries, 500) }, ...options });
  client.on("error", () => undefined); // node-redis requires an error listener; the store reports failures itself
  clients.push(client);
  await client.connect();
  return client;
}

beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  for (const client of clients) if (client.isOpen) client.destroy();
  for (const close of closers) close();
  await server?.dispose();
});

backendContract({ name: "redis through a caller's node-redis client", backend: async () => redisBackend({ client: await nodeRedis() }) });
// node-redis 6 (the current major; connect-redis 9 depends on 5), which speaks RESP3 by default (5: RESP2).
backendContract({
  name: "redis through a caller's node-redis 6 client",
  backend: async () => {
    const client = createClient6({ url: server.url, disableOfflineQueue: true });
    client.on("error", () => undefined);
    await client.connect();
    closers.push(() => client.destroy());
    return redisBackend({ client });
  },
});

describe("node-redis client guarantees", () => {
  const stores: SessionStore[] = [];
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((store) => store.close()));
  });
  const open = (client: NodeRedis, timeoutMs = 400) => {
    const store = createSessionStore({ backend: redisBackend({ client }), timeoutMs, prefix: uniquePrefix("nr") });
    stores.push(store);
    return store;
  };

  it("refuses anything that is not an ioredis or node-redis client, naming client", () => {
    for (const bad of [{}, { sendCommand: () => undefined }, "redis://localhost"]) {
      let message = "";
      try {
        redisBackend({ client: bad as never });
      } catch (error) {
        expect(isSessionStoreError(error) && error.code).toBe("CONFIG");
        message = (error as Error).message;
      }
      expect(message).toMatch(/"client"/);
      expect(message).toMatch(/node-redis/);
    }
  });

  it("reads an unmodified session with exactly one command (GETEX), labelled with the server", async () => {
    const store = open(await nodeRedis(), 2000);
    expect(store.backend.label).toBe(`redis 127.0.0.1:${server.port} (node-redis)`);
    await store.set("one", { a: 1 });
    const before = await commandCalls();
    expect(await store.get("one")).toEqual({ a: 1 });
    const after = await commandCalls();
    const sent = [...after].filter(([name, calls]) => calls !== (before.get(name) ?? 0)).map(([name, calls]) => [name, calls - (before.get(name) ?? 0)]);
    // HELLO and INFO are the admin connection's own commands.
    expect(sent.filter(([name]) => name !== "info" && name !== "hello")).toEqual([["getex", 1]]);
  });

  it("saves a changed session after the server forgot its scripts (NOSCRIPT: EVAL with the same arguments)", async () => {
    const client = await nodeRedis();
    const store = open(client, 2000);
    await store.set("scripted", { views: 1 });
    const loaded = await store.load("scripted");
    await client.sendCommand(["SCRIPT", "FLUSH"]); // as after a restart or a failover to a fresh node
    const before = await commandCalls();
    const outcome = await store.save("scripted", { views: 2 }, { previous: loaded });
    const after = await commandCalls();
    expect(outcome.status).toBe("written");
    expect((after.get("eval") ?? 0) - (before.get("eval") ?? 0)).toBe(1);
    expect(await store.get("scripted")).toEqual({ views: 2 });
    // The script is cached again: the next compare-and-set is an EVALSHA that finds it.
    const again = await store.save("scripted", { views: 3 }, { previous: outcome.status === "written" ? outcome.session : loaded });
    expect(again.status).toBe("written");
    expect((await commandCalls()).get("eval") ?? 0).toBe(after.get("eval") ?? 0);
    expect(await store.get("scripted")).toEqual({ views: 3 });
  });

  it("never closes the caller's client, and leaves no listener on it", async () => {
    const client = await nodeRedis();
    const listeners = client.listenerCount("error") + client.listenerCount("ready") + client.listenerCount("end");
    const store = createSessionStore({ backend: redisBackend({ client }), prefix: uniquePrefix("nr") });
    await store.set("x", { a: 1 });
    await store.close();
    expect(client.isOpen).toBe(true);
    expect(await client.ping()).toBe("PONG");
    expect(client.listenerCount("error") + client.listenerCount("ready") + client.listenerCount("end")).toBe(listeners);
  });

  it("says what to do with a client that was never connected, and works once it is", async () => {
    const client = createClient({ url: server.url, disableOfflineQueue: true });
    client.on("error", () => undefined);
    clients.push(client);
    const store = open(client);
    const failure = await rejection(store.get("x"));
    expect(failure.code).toBe("UNAVAILABLE");
    expect(failure.message).toMatch(/connect\(\)/);
    await client.connect();
    await store.set("x", { a: 1 });
    expect(await store.get("x")).toEqual({ a: 1 });
  });

  it("fails every operation fast on a client its owner closed", async () => {
    const client = await nodeRedis();
    const store = open(client);
    await store.set("x", { a: 1 });
    client.destroy();
    for (const operation of [() => store.get("x"), () => store.set("x", { a: 2 }), () => store.ping()]) {
      const failure = await rejection(operation);
      expect(failure.code).toBe("UNAVAILABLE");
      expect(failure.message).toMatch(/closed/);
    }
  });
});

describe("node-redis: a wrong database or TLS on one side only fails with CONFIG, as with ioredis", () => {
  let tlsServer: RedisServer;
  const stores: SessionStore[] = [];
  beforeAll(async () => {
    tlsServer = await startRedis({ kind: "tls" });
  });
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((store) => store.close()));
  });
  afterAll(async () => {
    await tlsServer?.dispose();
  });
  /**
   * A client whose connect cannot succeed: node-redis's connect() never resolves then (it retries the
   * handshake forever), so it is started, not awaited, as an app that does not await it would.
   */
  const failingClient = (url: string, options: Parameters<typeof createClient>[0] = {}): NodeRedis => {
    const client = createClient({ url, disableOfflineQueue: true, socket: { reconnectStrategy: (retries: number) => Math.min(20 * 2 ** retries, 500) }, ...options });
    client.on("error", () => undefined);
    clients.push(client);
    client.connect().catch(() => undefined);
    return client;
  };
  const open = (client: NodeRedis) => {
    const store = createSessionStore({ backend: redisBackend({ client }), timeoutMs: 2000, prefix: uniquePrefix("nrc") });
    stores.push(store);
    return store;
  };

  it("fails every operation with CONFIG naming a database the server does not have, and writes nothing to db 0", async () => {
    const store = open(failingClient(`${server.url}/99`));
    const failure = await rejection(store.set("in-db-99", { a: 1 }));
    expect(failure.code, failure.message).toBe("CONFIG");
    expect(failure.message).toContain("database 99 cannot be selected");
    expect(failure.message).toContain("/99");
    for (const operation of [() => store.get("in-db-99"), () => store.set("other", { b: 2 }), () => store.ping()]) expect((await rejection(operation)).code).toBe("CONFIG");
    expect(await server.command("KEYS", `${store.options.prefix}*`)).toEqual([]);
  });

  it("says the server speaks plain TCP when a rediss:// client meets a plain port", async () => {
    const store = open(failingClient(`rediss://127.0.0.1:${server.port}`, { socket: { tls: true, ca: tlsServer.tls!.caPem, reconnectStrategy: (retries: number) => Math.min(20 * 2 ** retries, 500) } }));
    const failure = await rejection(store.get("x"));
    expect(failure.code, failure.message).toBe("CONFIG");
    expect(failure.message).toMatch(/TLS is on, but the server speaks plain TCP/);
    expect((await rejection(store.set("x", { a: 1 }))).code).toBe("CONFIG");
  });

  it("says the port expects TLS when a redis:// client meets a TLS-only port", async () => {
    const store = open(failingClient(`redis://127.0.0.1:${tlsServer.port}`));
    const failure = await rejection(store.get("x"));
    expect(failure.code, failure.message).toBe("CONFIG");
    expect(failure.message).toMatch(/expects TLS on this port/);
    expect((await rejection(store.set("x", { a: 1 }))).code).toBe("CONFIG");
  });

  it("works over TLS with the server's CA (rediss://)", async () => {
    const store = open(await nodeRedis(`rediss://127.0.0.1:${tlsServer.port}`, { socket: { tls: true, ca: tlsServer.tls!.caPem } }));
    await store.set("secure", { a: 1 });
    expect(await store.get("secure")).toEqual({ a: 1 });
  });
});

describe("node-redis: a server that stops, or freezes, and comes back", () => {
  let own: RedisServer;
  beforeAll(async () => {
    own = await startRedis();
  });
  afterAll(async () => {
    await own?.dispose();
  });
  const FAST = ["UNAVAILABLE", "TIMEOUT"];
  const events: string[] = [];
  function withEvents(client: NodeRedis): SessionStore {
    const store = createSessionStore({ backend: redisBackend({ client }), timeoutMs: 400, prefix: uniquePrefix("nr") });
    store.on("unavailable", () => events.push("unavailable"));
    store.on("available", () => events.push("available"));
    return store;
  }

  async function everyOperationFailsFast(store: SessionStore): Promise<void> {
    for (const operation of [() => store.get("someone"), () => store.set("someone", { a: 1 }), () => store.touch("someone"), () => store.destroy("someone"), () => store.length(), () => store.ping()]) {
      expect(FAST).toContain((await rejection(operation)).code);
    }
  }

  it("stopped: every operation rejects within the deadline, nothing runs late, and it recovers by itself", async () => {
    // The client's defaults (offline queue on): the store still sends nothing while it is not ready.
    const client = createClient({ url: own.url, socket: { reconnectStrategy: (retries: number) => Math.min(20 * 2 ** retries, 500) } });
    client.on("error", () => undefined);
    clients.push(client);
    await client.connect();
    const store = createSessionStore({ backend: redisBackend({ client }), timeoutMs: 400, prefix: uniquePrefix("nr") });
    const events: string[] = [];
    store.on("unavailable", () => events.push("unavailable"));
    store.on("available", () => events.push("available"));
    try {
      await store.set("before", { a: 1 });
      await own.stop();
      await everyOperationFailsFast(store);
      const burst = await Promise.allSettled(Array.from({ length: 100 }, (_, i) => store.get(`visitor-${i}`)));
      for (const outcome of burst) expect(FAST).toContain(outcome.status === "rejected" ? (outcome.reason as { code: string }).code : "resolved");
      expect(FAST).toContain((await rejection(store.set("stale", { written: "while down" }))).code);
      expect(events).toContain("unavailable");
      await own.restart();
      await eventually("the store works again", async () => (await store.set("after", { a: 2 }), true));
      expect(events.at(-1)).toBe("available");
      // A command kept in node-redis's offline queue and sent after the reconnect would show up here.
      expect(await store.get("stale")).toBeNull();
      expect(await own.command("DBSIZE")).toBe(1);
    } finally {
      await store.close();
    }
  });

  it("frozen (SIGSTOP): every operation rejects within the deadline, later ones are not even sent, and it recovers", async () => {
    const client = await nodeRedis(own.url);
    const store = withEvents(client);
    await store.set("kept", { a: 1 });
    own.pause();
    try {
      await everyOperationFailsFast(store);
      await eventually("the store reported the server unavailable", () => events.includes("unavailable"));
      // Found hung: this write is refused without being sent, so the server cannot run it when it thaws.
      expect(FAST).toContain((await rejection(store.set("refused", { a: 2 }))).code);
    } finally {
      own.resume();
    }
    await eventually("the store reads again", async () => (await store.get("kept")) !== null);
    expect(await store.get("refused")).toBeNull();
    expect(events.at(-1)).toBe("available");
    await store.close();
  });
});

/** Commands the shared server has run, by name (INFO commandstats). */
async function commandCalls(): Promise<Map<string, number>> {
  const info = String(await server.command("INFO", "commandstats"));
  const calls = new Map<string, number>();
  for (const match of info.matchAll(/^cmdstat_([a-z|]+):calls=(\d+)/gm)) calls.set(match[1] as string, Number(match[2]));
  return calls;
}
