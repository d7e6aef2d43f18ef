import { createCluster, createSentinel } from "redis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createSessionStore, isSessionStoreError, redisBackend, type RedisBackendOptions, type SessionStore } from "@sessionbridge/core";
import { backendContract, eventually, uniquePrefix } from "../src/contract.js";
import { commandCalls, startCluster, startSentinelTopology, type ClusterTopology, type RedisNode, type SentinelTopology } from "../src/redis-topologies.js";

/**
 * Replica reads through a caller's node-redis client: a Cluster made with `useReplicas: true` and a
 * Sentinel client with `replicaPoolSize`, given `readFrom: "replica-preferred"`. Reads go where
 * node-redis sends read-only commands; read-your-writes is kept as on the connections sessionbridge
 * opens (a miss or a key this process just wrote asks the master). Real replicas, made to lag on purpose.
 */

let cluster: ClusterTopology;
let sentinel: SentinelTopology;
const closers: Array<() => unknown> = [];
const reconnectStrategy = (retries: number) => Math.min(20 * 2 ** retries, 500);

beforeAll(async () => {
  [cluster, sentinel] = await Promise.all([startCluster(), startSentinelTopology({ replicas: 1, sentinels: 1 })]);
});
afterAll(async () => {
  for (const close of closers) await close();
  await Promise.all([cluster?.stop(), sentinel?.stop()]);
});

async function clusterClient(useReplicas = true) {
  const client = createCluster({ rootNodes: cluster.seeds().map(({ host, port }) => ({ url: `redis://${host}:${port}` })), useReplicas, defaults: { socket: { reconnectStrategy } } });
  client.on("error", () => undefined);
  await client.connect();
  closers.push(() => client.destroy());
  return client;
}

async function sentinelClient() {
  const client = createSentinel({ name: sentinel.name, sentinelRootNodes: sentinel.sentinelAddresses(), replicaPoolSize: 1, nodeClientOptions: { socket: { reconnectStrategy } } });
  client.on("error", () => undefined);
  await client.connect();
  closers.push(() => client.destroy());
  return client;
}

const replicaPreferred: Partial<RedisBackendOptions> = { readFrom: "replica-preferred" };

backendContract({ name: "redis cluster 3+3 through a node-redis cluster client with useReplicas, readFrom replica-preferred", backend: async () => redisBackend({ client: await clusterClient(), ...replicaPreferred }) });
backendContract({ name: "redis sentinel through a node-redis sentinel client with replicaPoolSize 1, readFrom replica-preferred", backend: async () => redisBackend({ client: await sentinelClient(), ...replicaPreferred }) });

async function clusterReplicas(): Promise<RedisNode[]> {
  return (await cluster.roles()).flatMap((role) => role.replicas);
}
const resetStats = (nodes: RedisNode[]) => Promise.all(nodes.map((node) => node.command("CONFIG", "RESETSTAT")));
/** The replica stops applying the replication stream while it keeps answering reads. */
const lag = (nodes: RedisNode[]) => Promise.all(nodes.map((node) => node.command("CLIENT", "PAUSE", 20_000, "WRITE")));
const catchUp = (nodes: RedisNode[]) => Promise.all(nodes.map((node) => node.command("CLIENT", "UNPAUSE")));

describe.each([
  { topology: "cluster", open: () => clusterClient(), replicas: clusterReplicas },
  { topology: "sentinel", open: () => sentinelClient(), replicas: async () => [...sentinel.replicas] },
])("node-redis $topology client, readFrom replica-preferred", ({ open, replicas }) => {
  const stores: SessionStore[] = [];
  let paused: RedisNode[] = [];
  afterEach(async () => {
    await catchUp(paused.splice(0));
    await Promise.all(stores.splice(0).map((store) => store.close()));
  });
  /** Each store is a separate "web server" with its own client: nothing shared in process. */
  const server = async (prefix: string): Promise<SessionStore> => {
    const store = createSessionStore({ prefix, timeoutMs: 2000, backend: redisBackend({ client: await open(), readFrom: "replica-preferred" }) });
    stores.push(store);
    return store;
  };

  it("reads sessions another server wrote from the replicas", async () => {
    const prefix = `sess:${uniquePrefix("nrr")}:`;
    const [writer, reader] = await Promise.all([server(prefix), server(prefix)]);
    const ids = Array.from({ length: 30 }, (_, i) => `s${i}`);
    await Promise.all(ids.map((id) => writer.set(id, { id })));
    const onReplicas = await replicas();
    await resetStats(onReplicas);
    for (const id of ids) expect(await reader.get(id)).toEqual({ id });
    // node-redis rotates a Cluster shard's read-only commands over its master and replica, one read at a
    // time: of the ~10 reads per shard, every other one reaches the replica (at least 14 of 30 over three
    // shards, whatever the keys' spread); a Sentinel client sends them all to its replica pool. A replica
    // that had not received a session yet answered null, and the master was asked.
    const calls = await Promise.all(onReplicas.map(commandCalls));
    expect(calls.map((c) => c.get ?? 0).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(14);
    // Each read's GET and PTTL are answered by one node. Sent apart, they alternated within the shard's
    // rotation: the GETs of a shard all went to one node (its master half the time), the PTTLs to the other.
    for (const c of calls) expect(c.pttl ?? 0).toBe(c.get ?? 0);
  });

  it("reads a session written a moment ago on another server while every replica lags behind", async () => {
    const prefix = `sess:${uniquePrefix("nrr")}:`;
    const [writer, reader] = await Promise.all([server(prefix), server(prefix)]);
    await reader.ping();
    paused = await replicas();
    await lag(paused);
    await writer.set("fresh", { user: "ada" });
    // The replicas really do not have it: only the fallback to the master can find it. (KEYS: a Cluster
    // replica redirects GET to its master unless the connection said READONLY.)
    for (const replica of paused) expect(await replica.command("KEYS", `${prefix}fresh`)).toEqual([]);
    expect(await reader.get("fresh")).toEqual({ user: "ada" });
  });

  it("reads back its own write at once (read-your-writes) while the replicas still hold the previous value", async () => {
    const prefix = `sess:${uniquePrefix("nrr")}:`;
    const store = await server(prefix);
    await store.set("mine", { v: 1 });
    const onReplicas = await replicas();
    await eventually("a replica has v1", async () => (await Promise.all(onReplicas.map((replica) => replica.command("KEYS", `${prefix}mine`)))).some((keys) => (keys as string[]).length > 0));
    paused = onReplicas;
    await lag(paused);
    await store.set("mine", { v: 2 });
    // A replica would answer v1: the key this process just wrote is read on the master.
    expect(await store.get("mine")).toEqual({ v: 2 });
  });
});

describe("node-redis replica reads: what cannot be promised fails at construction with CONFIG naming readFrom", () => {
  const refused = (build: () => unknown): string => {
    try {
      build();
    } catch (error) {
      expect(isSessionStoreError(error) && error.code).toBe("CONFIG");
      return (error as Error).message;
    }
    throw new Error("expected a CONFIG error");
  };

  it('refuses readFrom "replica" (node-redis may answer a read-only command from the master)', async () => {
    const client = await clusterClient();
    expect(refused(() => redisBackend({ client, readFrom: "replica" }))).toMatch(/readFrom.*replica-preferred/s);
  });

  it("refuses replica reads on a Cluster client made without useReplicas", async () => {
    const client = await clusterClient(false);
    expect(refused(() => redisBackend({ client, readFrom: "replica-preferred" }))).toMatch(/readFrom.*useReplicas/s);
  });
});
