import diagnosticsChannel from "node:diagnostics_channel";
import type { Socket } from "node:net";
import { Cluster } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSessionStore, redisBackend, TRACING_CHANNELS, type OperationContext } from "@sessionbridge/core";
import { backendContract, eventually, uniquePrefix } from "../src/contract.js";
import { tempDir } from "../src/process.js";
import { makeTlsFiles, type TlsFiles } from "../src/redis.js";
import { commandCalls, parseInfo, startCluster, type ClusterTopology, type RedisNode } from "../src/redis-topologies.js";

// Redis Cluster, 3 masters + 3 replicas, as ElastiCache's cluster mode enabled; and the same over TLS
// with AUTH (--tls-cluster yes, --tls-replication yes).
const password = "cluster-secret";
let plain: ClusterTopology;
let secure: ClusterTopology;
let tls: TlsFiles;
const certDir = tempDir("cluster-tls");

beforeAll(async () => {
  tls = makeTlsFiles(certDir.path);
  plain = await startCluster();
  secure = await startCluster({ tls, password });
});
afterAll(async () => {
  await Promise.all([plain?.stop(), secure?.stop()]);
  certDir.remove();
});

/** ElastiCache's TLS clusters need the host name kept for the certificate: the passthrough users copy. */
const keepHostName = (hostname: string, callback: (error: NodeJS.ErrnoException | null, address: string) => void) => callback(null, hostname);

backendContract({ name: "redis cluster 3+3, readFrom replica", backend: () => redisBackend({ cluster: plain.seeds(), readFrom: "replica" }) });

backendContract({
  name: "redis cluster 3+3 over TLS with AUTH, configuration endpoint, dnsLookup passthrough",
  // One address given, as an ElastiCache configuration endpoint: the client discovers the rest.
  backend: () => redisBackend({ url: `rediss://:${password}@127.0.0.1:${secure.nodes[0]!.port}`, cluster: true, tls: { ca: tls.caPem }, dnsLookup: keepHostName }),
});

describe("cluster specifics", () => {
  it("spreads sessions over every master and lists, counts and clears them on all of them", async () => {
    const prefix = uniquePrefix("spread");
    const store = createSessionStore({ prefix, backend: redisBackend({ cluster: plain.seeds() }) });
    try {
      const count = 300;
      await Promise.all(Array.from({ length: count }, (_, i) => store.set(`s${i}`, { i })));
      const roles = await plain.roles();
      expect(roles).toHaveLength(3);
      const perMaster = await Promise.all(roles.map(async ({ master }) => Number(parseInfo(String(await master.command("INFO", "keyspace"))).get("db0")?.match(/keys=(\d+)/)?.[1] ?? 0)));
      for (const keys of perMaster) expect(keys).toBeGreaterThan(0);
      expect(await store.length()).toBe(count);
      const ids = new Set<string>();
      for await (const id of store.ids()) ids.add(id);
      expect(ids.size).toBe(count);
      await store.clear();
      expect(await store.length()).toBe(0);
    } finally {
      await store.close();
    }
  });

  it("with waitForReplicas, the first write of a fresh store succeeds on a healthy cluster", async () => {
    // Before the fix the slot map was read before the client had loaded it, so the first write of every
    // new store (after each deploy) failed with UNAVAILABLE "the key's master changed during the write".
    const prefix = uniquePrefix("wait-first");
    const store = createSessionStore({ prefix, timeoutMs: 2000, backend: redisBackend({ cluster: plain.seeds(), waitForReplicas: { replicas: 1, timeoutMs: 1000 } }) });
    try {
      // Resolving means a replica acknowledged the write (WAIT); a failure would reject.
      await store.set("first", { v: 1 });
      await store.set("second", { v: 2 });
      expect(await store.get("first")).toEqual({ v: 1 });
    } finally {
      await store.close();
    }
  });

  it("refuses a database other than 0 on a cluster node reached without the cluster option, naming it", async () => {
    const store = createSessionStore({ prefix: uniquePrefix("db3"), backend: redisBackend({ url: `redis://127.0.0.1:${plain.nodes[0]!.port}/3` }) });
    try {
      const failure = await store.set("a", { v: 1 }).then(() => undefined, (error: unknown) => error as { code: string; message: string });
      expect(failure?.code).toBe("CONFIG");
      expect(failure?.message).toContain("database 3 cannot be selected");
      expect(failure?.message).toContain("only database 0");
    } finally {
      await store.close();
    }
  });

  it("sends the reads one turn of the event loop starts in one socket write per node", async () => {
    const client = new Cluster(plain.seeds(), { enableOfflineQueue: true });
    client.on("error", () => undefined);
    const store = createSessionStore({ prefix: uniquePrefix("batch"), backend: redisBackend({ client }) });
    try {
      const ids = Array.from({ length: 60 }, (_, i) => `user-${i}`);
      await Promise.all(ids.map((id) => store.set(id, { id }))); // also connects to every master
      let writes = 0;
      for (const node of client.nodes("all")) {
        const socket = (node as unknown as { stream?: Socket & Record<"_write" | "_writev", (...args: unknown[]) => void> }).stream;
        if (socket === undefined) continue;
        for (const method of ["_write", "_writev"] as const) {
          const original = socket[method].bind(socket);
          socket[method] = (...args: unknown[]) => {
            writes++;
            original(...args);
          };
        }
      }
      const sessions = await Promise.all(ids.map((id) => store.get(id)));
      expect(sessions).toEqual(ids.map((id) => ({ id })));
      expect(writes).toBeLessThanOrEqual(client.nodes("master").length); // 60 without batching
      expect(writes).toBeGreaterThan(0);
    } finally {
      await store.close();
      client.disconnect();
    }
  });

  it("names the key's master as the node of an operation on the tracing channels", async () => {
    const prefix = uniquePrefix("node");
    const store = createSessionStore({ prefix, backend: redisBackend({ cluster: plain.seeds() }) });
    const nodes: unknown[] = [];
    const channel = diagnosticsChannel.tracingChannel<unknown, OperationContext>(TRACING_CHANNELS.set);
    const handlers = { start() {}, end() {}, asyncStart() {}, asyncEnd: (context: OperationContext) => void nodes.push(context.node), error() {} };
    channel.subscribe(handlers);
    try {
      for (const id of ["a", "b", "c", "d"]) await store.set(id, { id });
      const roles = await plain.roles();
      const holders = await Promise.all(["a", "b", "c", "d"].map(async (id) => {
        const holder = await Promise.all(roles.map(async ({ master }) => // Another master answers MOVED: not its slot.
          ((await master.command("EXISTS", `${prefix}${id}`).catch(() => 0)) === 1 ? master.port : undefined)));
        return { role: "primary", address: `127.0.0.1:${holder.find((port) => port !== undefined)}` };
      }));
      expect(nodes).toEqual(holders);
    } finally {
      channel.unsubscribe(handlers);
      await store.close();
    }
  });

  it("names the key's master as the node of a destroy", async () => {
    const prefix = uniquePrefix("node-destroy");
    const store = createSessionStore({ prefix, backend: redisBackend({ cluster: plain.seeds() }) });
    const ids = ["a", "b", "c", "d"];
    const nodes: unknown[] = [];
    const channel = diagnosticsChannel.tracingChannel<unknown, OperationContext>(TRACING_CHANNELS.destroy);
    const handlers = { start() {}, end() {}, asyncStart() {}, asyncEnd: (context: OperationContext) => void nodes.push(context.node), error() {} };
    try {
      for (const id of ids) await store.set(id, { id });
      const roles = await plain.roles();
      const holders = await Promise.all(ids.map(async (id) => {
        const holder = await Promise.all(roles.map(async ({ master }) => // Another master answers MOVED: not its slot.
          ((await master.command("EXISTS", `${prefix}${id}`).catch(() => 0)) === 1 ? master.port : undefined)));
        return { role: "primary", address: `127.0.0.1:${holder.find((port) => port !== undefined)}` };
      }));
      channel.subscribe(handlers);
      for (const id of ids) expect(await store.destroy(id)).toBe(true);
      expect(nodes).toEqual(holders);
    } finally {
      channel.unsubscribe(handlers);
      await store.close();
    }
  });

  it("sends a session read to a replica and the TTL refresh to the master", async () => {
    const prefix = uniquePrefix("route");
    const writer = createSessionStore({ prefix, ttlMs: 3_600_000, backend: redisBackend({ cluster: plain.seeds() }) });
    const reader = createSessionStore({ prefix, ttlMs: 3_600_000, backend: redisBackend({ cluster: plain.seeds(), readFrom: "replica", replicaTouchAfterMs: 0 }) });
    try {
      await writer.set("a", { v: 1 });
      // The first reads open the connection to the slot's replica (until it is up they go to the master).
      await eventually("the replica connection is up", async () => {
        await Promise.all(plain.nodes.map((node) => node.command("CONFIG", "RESETSTAT")));
        await reader.get("a");
        const roles = await plain.roles();
        return (await Promise.all(roles.flatMap(({ replicas }) => replicas.map(async (node) => (await commandCalls(node)).get ?? 0)))).some((gets) => gets > 0);
      });
      await Promise.all(plain.nodes.map((node) => node.command("CONFIG", "RESETSTAT")));
      expect(await reader.get("a")).toEqual({ v: 1 });
      const roles = await plain.roles();
      const calls = async (node: RedisNode, command: string) => (await commandCalls(node))[command] ?? 0;
      const replicaGets = await Promise.all(roles.flatMap(({ replicas }) => replicas.map((node) => calls(node, "get"))));
      const masterGets = await Promise.all(roles.map(({ master }) => calls(master, "get")));
      const masterExpires = await Promise.all(roles.map(({ master }) => calls(master, "pexpire")));
      expect(replicaGets.reduce((a, b) => a + b, 0)).toBe(1);
      expect(masterGets.reduce((a, b) => a + b, 0)).toBe(0);
      expect(masterExpires.reduce((a, b) => a + b, 0)).toBe(1);
    } finally {
      await Promise.all([writer.close(), reader.close()]);
    }
  });
});
