import diagnosticsChannel from "node:diagnostics_channel";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createSessionStore, memcachedBackend, redisBackend, TRACING_CHANNELS, type OperationContext, type SessionStore } from "@sessionbridge/core";
import { eventually, uniquePrefix } from "../src/contract.js";
import { startMemcachedNodes, type MemcachedServer } from "../src/memcached.js";
import { startRedis } from "../src/redis.js";
import { startReplicaSet, type RedisNode } from "../src/redis-topologies.js";

/**
 * The tracing context's `node` (docs/operations.md): which server an operation's last command went to,
 * its role and `host:port`, on real servers — a primary with a read replica, two memcached nodes — and
 * never a password.
 */

const PASSWORD = "node-password-that-must-not-leak";
const stores: SessionStore[] = [];
let unsubscribe: (() => void) | undefined;

/** The contexts of finished get / set / save operations, in order. */
function watch(): OperationContext[] {
  const finished: OperationContext[] = [];
  const offs = (["get", "set", "save"] as const).map((operation) => {
    const channel = diagnosticsChannel.tracingChannel<unknown, OperationContext>(TRACING_CHANNELS[operation]);
    const handlers = { start() {}, end() {}, asyncStart() {}, asyncEnd: (context: OperationContext) => void finished.push(context), error() {} };
    channel.subscribe(handlers);
    return () => channel.unsubscribe(handlers);
  });
  unsubscribe = () => offs.forEach((off) => off());
  return finished;
}

afterEach(async () => {
  unsubscribe?.();
  unsubscribe = undefined;
  await Promise.all(stores.splice(0).map((store) => store.close()));
});

describe("redis primary + read replica", () => {
  it("names the replica for a read it answered, the primary for a write and for a miss the primary settled", async () => {
    const set = await startReplicaSet({ replicas: 1, password: PASSWORD });
    try {
      const replica = set.replicas[0] as RedisNode;
      const prefix = uniquePrefix("node");
      // Written by another store: this one has not just written it, so it reads from the replica.
      const writer = createSessionStore({ url: set.url(set.primary), prefix, timeoutMs: 1000 });
      stores.push(writer);
      await writer.set("replicated-session", { n: 1 });
      await eventually("the replica has the session", async () => (await replica.command("EXISTS", `${prefix}replicated-session`)) === 1);

      const store = createSessionStore({ backend: redisBackend({ url: set.url(set.primary), readers: [set.url(replica)], readFrom: "replica-preferred" }), prefix, timeoutMs: 1000 });
      stores.push(store);
      // Connected to both first: a read while the replica's connection is still opening goes to the primary.
      expect((await store.health()).nodes.map((node) => node.reachable)).toEqual([true, true]);
      const finished = watch();
      expect(await store.get("replicated-session")).toEqual({ n: 1 });
      await store.get("no-such-session"); // the replica misses; only the primary can say it is gone
      await store.set("new-session", { n: 2 });

      expect(finished.map((context) => [context.operation, context.outcome, context.node])).toEqual([
        ["get", "hit", { role: "replica", address: `127.0.0.1:${replica.port}` }],
        ["get", "miss", { role: "primary", address: `127.0.0.1:${set.primary.port}` }],
        ["set", "written", { role: "primary", address: `127.0.0.1:${set.primary.port}` }],
      ]);
      expect(JSON.stringify(finished)).not.toContain(PASSWORD);
    } finally {
      await Promise.all(stores.splice(0).map((store) => store.close()));
      await set.stop();
    }
  });
});

describe("memcached with two nodes", () => {
  let nodes: MemcachedServer[];
  beforeAll(async () => {
    nodes = await startMemcachedNodes(2);
  });
  afterAll(async () => {
    await Promise.all((nodes ?? []).map((node) => node.dispose()));
  });

  it("names the node that holds each session, the same for its write and its read, and both nodes over many sessions", async () => {
    const store = createSessionStore({ backend: memcachedBackend({ servers: nodes.map((node) => node.address) }), prefix: uniquePrefix("node"), timeoutMs: 1000 });
    stores.push(store);
    const finished = watch();
    const served = new Set<string | undefined>();
    for (let i = 0; i < 20; i++) {
      await store.set(`session-${i}`, { i });
      await store.get(`session-${i}`);
      const [write, read] = finished.splice(0);
      expect(write?.node?.role).toBe("node");
      expect(read?.node).toEqual(write?.node);
      served.add(read?.node?.address);
    }
    expect(served).toEqual(new Set(nodes.map((node) => node.address)));
  });
});

describe("a migrateFrom source on another server", () => {
  it("names this store's server for a read that moved a session from the source, not the source's", async () => {
    const [ours, theirs] = await Promise.all([startRedis(), startRedis()]);
    try {
      const expires = new Date(Date.now() + 60_000).toISOString();
      await theirs.command("SET", "sess:moved-session", JSON.stringify({ cookie: { originalMaxAge: 60_000, expires }, n: 1 }), "PX", 60_000);
      const store = createSessionStore({ url: ours.url, prefix: uniquePrefix("node"), migrateFrom: { format: "connect-redis", url: theirs.url }, timeoutMs: 1000 });
      stores.push(store);
      const finished = watch();
      expect(await store.get("moved-session")).toEqual({ n: 1 });
      // The move's last command deleted the source's copy on the other server; `node` is still this store's.
      expect(await theirs.command("EXISTS", "sess:moved-session")).toBe(0);
      expect(finished.map((context) => [context.operation, context.outcome, context.node])).toEqual([["get", "hit", { role: "primary", address: `127.0.0.1:${ours.port}` }]]);
    } finally {
      await Promise.all(stores.splice(0).map((store) => store.close()));
      await Promise.all([ours.dispose(), theirs.dispose()]);
    }
  });
});

describe("the memory backend", () => {
  it("names no node", async () => {
    const store = createSessionStore({ url: "memory://" });
    stores.push(store);
    const finished = watch();
    await store.set("a-session", { n: 1 });
    await store.get("a-session");
    expect(finished.map((context) => context.node)).toEqual([undefined, undefined]);
  });
});
