import { createCluster, createSentinel } from "redis";
import { createCluster as createCluster6, createSentinel as createSentinel6 } from "redis-6";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSessionStore, redisBackend, type SessionStore } from "@sessionbridge/core";
import { backendContract, eventually, uniquePrefix } from "../src/contract.js";
import { startCluster, startSentinelTopology, type ClusterTopology, type RedisNode, type SentinelTopology } from "../src/redis-topologies.js";

/**
 * node-redis Cluster and Sentinel clients given as `client`: the shared contract suite (SCAN on every
 * master, per-slot deletes, the per-user index), waitForReplicas, and a frozen node: commands for it
 * fail within the deadline and, once it is found hung, are not even sent (so none runs late), while the
 * other masters keep answering.
 */

let cluster: ClusterTopology;
let sentinel: SentinelTopology;
const closers: Array<() => unknown> = [];
const reconnectStrategy = (retries: number) => Math.min(20 * 2 ** retries, 500);

beforeAll(async () => {
  // down-after 60 s: a frozen master stays the master, so the test sees the hang, not a failover.
  [cluster, sentinel] = await Promise.all([startCluster(), startSentinelTopology({ replicas: 1, sentinels: 1, downAfterMs: 60_000 })]);
});
afterAll(async () => {
  for (const close of closers) await close();
  await Promise.all([cluster?.stop(), sentinel?.stop()]);
});

async function nodeRedisCluster() {
  const client = createCluster({ rootNodes: cluster.seeds().map(({ host, port }) => ({ url: `redis://${host}:${port}` })), defaults: { socket: { reconnectStrategy } } });
  client.on("error", () => undefined);
  await client.connect();
  closers.push(() => client.destroy());
  return client;
}

async function nodeRedisSentinel() {
  const client = createSentinel({ name: sentinel.name, sentinelRootNodes: sentinel.sentinelAddresses(), nodeClientOptions: { socket: { reconnectStrategy } } });
  client.on("error", () => undefined);
  await client.connect();
  closers.push(() => client.destroy());
  return client;
}

backendContract({ name: "redis cluster 3+3 through a caller's node-redis cluster client", backend: async () => redisBackend({ client: await nodeRedisCluster() }) });
backendContract({ name: "redis sentinel through a caller's node-redis sentinel client", backend: async () => redisBackend({ client: await nodeRedisSentinel() }) });
// node-redis 6 (RESP3 by default) on the same two topologies.
backendContract({
  name: "redis cluster 3+3 through a caller's node-redis 6 cluster client",
  backend: async () => {
    const client = createCluster6({ rootNodes: cluster.seeds().map(({ host, port }) => ({ url: `redis://${host}:${port}` })), defaults: { socket: { reconnectStrategy } } });
    client.on("error", () => undefined);
    await client.connect();
    closers.push(() => client.destroy());
    return redisBackend({ client });
  },
});
backendContract({
  name: "redis sentinel through a caller's node-redis 6 sentinel client",
  backend: async () => {
    const client = createSentinel6({ name: sentinel.name, sentinelRootNodes: sentinel.sentinelAddresses(), nodeClientOptions: { socket: { reconnectStrategy } } });
    client.on("error", () => undefined);
    await client.connect();
    closers.push(() => client.destroy());
    return redisBackend({ client });
  },
});

const FAST = ["UNAVAILABLE", "TIMEOUT"];
type Outcome = { ok: true } | { ok: false; code: string; message: string };
const settle = (operation: Promise<unknown>): Promise<Outcome> =>
  operation.then(
    () => ({ ok: true }) as const,
    (error: { code: string; message: string }) => ({ ok: false, code: error.code, message: error.message }),
  );

function freeze(node: RedisNode): () => void {
  process.kill(node.process.pid, "SIGSTOP");
  return () => process.kill(node.process.pid, "SIGCONT");
}

describe("node-redis cluster", () => {
  it("labels the backend and waits for replicas on the key's master (waitForReplicas)", async () => {
    const store = createSessionStore({ prefix: uniquePrefix("nrc"), backend: redisBackend({ client: await nodeRedisCluster(), waitForReplicas: { replicas: 1, timeoutMs: 500 } }) });
    try {
      expect(store.backend.label).toBe("redis cluster (node-redis)");
      await Promise.all(Array.from({ length: 20 }, (_, i) => store.set(`w${i}`, { i })));
      expect(await store.get("w7")).toEqual({ i: 7 });
    } finally {
      await store.close();
    }
  });

  it("a frozen master: its keys fail within the deadline and are then refused unsent; the other masters answer; it recovers", async () => {
    const store: SessionStore = createSessionStore({ prefix: uniquePrefix("nrc"), timeoutMs: 400, backend: redisBackend({ client: await nodeRedisCluster() }) });
    const [first] = await cluster.roles();
    const thaw = freeze((first as { master: RedisNode }).master);
    let refused: Outcome[];
    try {
      const writes = await Promise.all(Array.from({ length: 30 }, (_, i) => settle(store.set(`first-${i}`, { i }))));
      // Keys on the two live masters were written; those on the frozen one timed out.
      expect(writes.some((outcome) => outcome.ok)).toBe(true);
      for (const outcome of writes) if (!outcome.ok) expect(FAST).toContain(outcome.code);
      expect(writes.some((outcome) => !outcome.ok)).toBe(true);
      // Silent for a whole deadline with commands waiting: the master is found hung (reads may still go out until then).
      await eventually("the frozen master is found hung", async () => {
        const reads = await Promise.all(Array.from({ length: 30 }, (_, i) => settle(store.get(`first-${i}`))));
        return reads.some((outcome) => !outcome.ok && /has not answered/.test(outcome.message));
      });
      refused = await Promise.all(Array.from({ length: 30 }, (_, i) => settle(store.set(`refused-${i}`, { i }))));
      const failures = refused.filter((outcome): outcome is Extract<Outcome, { ok: false }> => !outcome.ok);
      expect(failures.length).toBeGreaterThan(0);
      expect(failures.some((failure) => /has not answered/.test(failure.message))).toBe(true);
    } finally {
      thaw();
    }
    await eventually("the frozen master answers again", async () => (await Promise.all(Array.from({ length: 30 }, (_, i) => store.get(`first-${i}`).then(() => true)))).every(Boolean));
    // Nothing refused while the master was hung ran after it thawed.
    for (const [i, outcome] of refused.entries()) if (!outcome.ok) expect(await store.get(`refused-${i}`)).toBeNull();
    await store.close();
  });
});

describe("node-redis sentinel", () => {
  it("a frozen master: every operation fails within the deadline, later ones are refused unsent, and it recovers", async () => {
    const store = createSessionStore({ prefix: uniquePrefix("nrs"), timeoutMs: 400, backend: redisBackend({ client: await nodeRedisSentinel() }) });
    expect(store.backend.label).toBe("redis sentinel (node-redis)");
    await store.set("kept", { a: 1 });
    const thaw = freeze(sentinel.primary);
    try {
      for (const operation of [() => store.get("kept"), () => store.set("x", { a: 1 }), () => store.touch("kept"), () => store.length()]) {
        const outcome = await settle(operation());
        expect(outcome.ok).toBe(false);
        if (!outcome.ok) expect(FAST).toContain(outcome.code);
      }
      const refused = await settle(store.set("refused", { a: 2 }));
      expect(refused.ok).toBe(false);
    } finally {
      thaw();
    }
    await eventually("the store reads again", async () => (await store.get("kept")) !== null);
    expect(await store.get("refused")).toBeNull();
    await store.close();
  });
});
