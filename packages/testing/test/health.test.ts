import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createSessionStore, memcachedBackend, redisBackend, type SessionStore } from "@sessionbridge/core";
import { eventually, rejection, uniquePrefix } from "../src/contract.js";
import { startMemcachedNodes, type MemcachedServer } from "../src/memcached.js";
import { startReplicaSet, type RedisNode, type ReplicaSet } from "../src/redis-topologies.js";

/**
 * `store.health()` on real servers: every node with its role, reachability, PING latency and why it is
 * down; a read replica's replication lag; `ok` means what `ping()` resolving means. Never a password.
 */

const PASSWORD = "health-password-that-must-not-leak";
const stores: SessionStore[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()));
});

describe("redis primary + reader", () => {
  let set: ReplicaSet;
  let replica: RedisNode;
  beforeAll(async () => {
    set = await startReplicaSet({ replicas: 1, password: PASSWORD });
    replica = set.replicas[0] as RedisNode;
  });
  afterAll(async () => {
    await set?.stop();
  });

  it("reports the primary and the replica with latency and lag, a replica that lags, and a replica that is down", async () => {
    const store = createSessionStore({ backend: redisBackend({ url: set.url(set.primary), readers: [set.url(replica)], readFrom: "replica-preferred" }), prefix: uniquePrefix("health"), timeoutMs: 1000 });
    stores.push(store);
    await store.set("s1", { a: 1 });
    const healthy = await store.health();
    expect(healthy).toMatchObject({ ok: true, system: "redis" });
    expect(healthy.nodes.map((node) => [node.node, node.role, node.reachable])).toEqual([
      [`127.0.0.1:${set.primary.port}`, "primary", true],
      [`127.0.0.1:${replica.port}`, "replica", true],
    ]);
    for (const node of healthy.nodes) expect(node.latencyMs).toBeGreaterThanOrEqual(0);
    expect(healthy.nodes[1]?.replicationLagBytes).toBeGreaterThanOrEqual(0);

    // A replica that stops applying the replication stream (it still answers reads) lags in bytes.
    await replica.command("CLIENT", "PAUSE", 20_000, "WRITE");
    try {
      await store.set("s2", { big: "x".repeat(10_000) });
      const lagging = await store.health();
      expect(lagging.ok).toBe(true);
      expect(lagging.nodes[1]?.replicationLagBytes).toBeGreaterThan(10_000);
    } finally {
      await replica.command("CLIENT", "UNPAUSE");
    }

    await replica.kill();
    try {
      const withoutReplica = await store.health();
      // Reads go to the primary: the store still serves every session.
      expect(withoutReplica.ok).toBe(true);
      expect(withoutReplica.nodes[1]).toMatchObject({ role: "replica", reachable: false });
      expect(withoutReplica.nodes[1]?.lastError).toMatch(/./);
      expect(JSON.stringify(withoutReplica)).not.toContain(PASSWORD);
      await store.ping();
    } finally {
      await replica.restart();
    }
  });

  it("is not ok while the primary is down, never rejects for it, and agrees with ping", async () => {
    const store = createSessionStore({ url: set.url(set.primary), prefix: uniquePrefix("health"), timeoutMs: 400 });
    stores.push(store);
    expect((await store.health()).ok).toBe(true);
    await set.primary.kill();
    try {
      const down = await store.health();
      expect(down.ok).toBe(false);
      expect(down.nodes).toEqual([{ node: `127.0.0.1:${set.primary.port}`, role: "primary", reachable: false, lastError: expect.stringMatching(/./) }]);
      expect(JSON.stringify(down)).not.toContain(PASSWORD);
      expect(["UNAVAILABLE", "TIMEOUT"]).toContain((await rejection(() => store.ping())).code);
    } finally {
      await set.primary.restart();
    }
    await eventually("the primary answers again", async () => (await store.health()).ok);
  });
});

describe("memcached, two nodes", () => {
  let nodes: MemcachedServer[];
  beforeAll(async () => {
    nodes = await startMemcachedNodes(2);
  });
  afterAll(async () => {
    await Promise.all(nodes.map((node) => node.dispose()));
  });

  it("reports every node, and a node that is down makes the store not ok, as ping says", async () => {
    const [first, second] = nodes as [MemcachedServer, MemcachedServer];
    const store = createSessionStore({ backend: memcachedBackend({ servers: [first.address, second.address] }), prefix: uniquePrefix("health"), timeoutMs: 1000 });
    stores.push(store);
    const healthy = await store.health();
    expect(healthy).toMatchObject({ ok: true, system: "memcached" });
    expect(healthy.nodes.map((node) => [node.node, node.role, node.reachable])).toEqual([
      [first.address, "node", true],
      [second.address, "node", true],
    ]);
    await second.stop();
    try {
      const degraded = await store.health();
      expect(degraded.ok).toBe(false);
      expect(degraded.nodes[0]).toMatchObject({ node: first.address, reachable: true });
      expect(degraded.nodes[1]).toMatchObject({ node: second.address, reachable: false });
      expect(degraded.nodes[1]?.lastError).toMatch(/./);
      expect((await rejection(() => store.ping())).code).toBe("UNAVAILABLE");
    } finally {
      await second.restart();
    }
  });
});

describe("memory", () => {
  it("is one node, always reachable", async () => {
    const store = createSessionStore({ url: "memory://" });
    stores.push(store);
    expect(await store.health()).toEqual({ ok: true, system: "memory", backend: "memory", nodes: [{ node: "memory", role: "node", reachable: true, latencyMs: 0 }] });
  });
});
