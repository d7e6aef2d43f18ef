import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createSessionStore, redisBackend, type RedisBackendOptions, type SessionStore, type SessionStoreOptions } from "@sessionbridge/core";
import { backendContract, rejection, uniquePrefix } from "../src/contract.js";
import { commandCalls, startReplicaSet, type RedisNode, type ReplicaSet } from "../src/redis-topologies.js";

// A primary and one replica, as ElastiCache's cluster-mode-disabled group offers them: the primary
// endpoint for writes, the reader endpoint for reads.
let set: ReplicaSet;
let replica: RedisNode;

beforeAll(async () => {
  set = await startReplicaSet({ replicas: 1 });
  replica = set.replicas[0] as RedisNode;
});
afterAll(async () => {
  await set?.stop();
});

const readerOptions = (extra: Partial<RedisBackendOptions> = {}): RedisBackendOptions => ({ url: set.url(set.primary), readers: [set.url(replica)], ...extra });

backendContract({
  name: "redis primary + reader, readFrom replica, waitForReplicas 1",
  backend: () => redisBackend(readerOptions({ readFrom: "replica", waitForReplicas: { replicas: 1, timeoutMs: 1000 } })),
});

/** Makes the replica stop applying the replication stream while it keeps answering reads. */
async function lagReplica(): Promise<void> {
  await replica.command("CLIENT", "PAUSE", 20_000, "WRITE");
}
async function catchUp(): Promise<void> {
  await replica.command("CLIENT", "UNPAUSE");
  await set.primary.command("WAIT", 1, 5000);
}

describe("replica reads with read-your-writes", () => {
  const opened: SessionStore[] = [];
  afterEach(async () => {
    await catchUp();
    await Promise.all(opened.splice(0).map((store) => store.close()));
  });
  /** Each store is a separate "web server": its own connections, nothing shared in process. */
  function server(options: Partial<SessionStoreOptions> & { backend?: never } = {}, backend: Partial<RedisBackendOptions> = {}): SessionStore {
    const store = createSessionStore({ prefix: "sess:rr:", timeoutMs: 2000, ...options, backend: redisBackend(readerOptions({ readFrom: "replica", ...backend })) });
    opened.push(store);
    return store;
  }

  it("reads a session written a moment ago on another server while the replica lags behind", async () => {
    const writer = server();
    const reader = server();
    await reader.ping();
    await lagReplica();
    const id = uniquePrefix("fresh");
    await writer.set(id, { user: "ada" });
    // The replica really does not have it yet: only the fallback to the primary can find it.
    expect(await replica.command("GET", `sess:rr:${id}`)).toBeNull();
    expect(await reader.get(id)).toEqual({ user: "ada" });
  });

  it("answers a read of a fresh session from the replica alone: GET + PTTL, nothing on the primary", async () => {
    const writer = server({ ttlMs: 3_600_000 });
    const reader = server({ ttlMs: 3_600_000 });
    const id = uniquePrefix("cheap");
    await writer.set(id, { n: 1 });
    await set.primary.command("WAIT", 1, 5000);
    await reader.ping();
    await Promise.all([set.primary.command("CONFIG", "RESETSTAT"), replica.command("CONFIG", "RESETSTAT")]);
    expect(await reader.get(id)).toEqual({ n: 1 });
    const [onPrimary, onReplica] = await Promise.all([commandCalls(set.primary), commandCalls(replica)]);
    expect(onReplica.get).toBe(1);
    expect(onReplica.pttl).toBe(1);
    for (const command of ["get", "getex", "pexpire", "set"]) expect(onPrimary[command]).toBeUndefined();
  });

  it("pushes the TTL to the primary (PEXPIRE) once it has dropped by more than replicaTouchAfterMs", async () => {
    const writer = server({ ttlMs: 3_600_000 });
    const reader = server({ ttlMs: 3_600_000 }, { replicaTouchAfterMs: 0 });
    const id = uniquePrefix("slide");
    await writer.set(id, { n: 1 });
    await set.primary.command("WAIT", 1, 5000);
    await set.primary.command("CONFIG", "RESETSTAT");
    expect(await reader.get(id)).toEqual({ n: 1 });
    expect((await commandCalls(set.primary)).pexpire).toBe(1);
  });

  it("does not serve a session destroyed on the primary when the TTL refresh finds it gone", async () => {
    const writer = server();
    const reader = server({}, { replicaTouchAfterMs: 0 });
    const id = uniquePrefix("logout");
    await writer.set(id, { user: "ada" });
    await set.primary.command("WAIT", 1, 5000);
    await lagReplica();
    await writer.destroy(id);
    expect(await replica.command("GET", `sess:rr:${id}`)).not.toBeNull(); // the stale copy is still there
    expect(await reader.get(id)).toBeNull();
  });

  it("with waitForReplicas, a write resolves once the replica has it, and fails with UNAVAILABLE when the replica lags", async () => {
    const store = server({ timeoutMs: 1000 }, { waitForReplicas: { replicas: 1, timeoutMs: 300 } });
    const id = uniquePrefix("wait");
    await store.set(id, { v: 1 });
    expect(await replica.command("GET", `sess:rr:${id}`)).not.toBeNull();
    await lagReplica();
    const failure = await rejection(store.set(id, { v: 2 }));
    expect(failure.code).toBe("UNAVAILABLE");
    expect(failure.message).toContain("0 of 1 replicas");
    expect(failure.message).not.toContain(id);
  });

  it("replica-preferred answers from the primary while the replica is down; replica fails the read instead", async () => {
    const writer = server();
    const preferred = server({ timeoutMs: 1000 }, { readFrom: "replica-preferred" });
    const strict = server({ timeoutMs: 1000 });
    const id = uniquePrefix("down");
    await writer.set(id, { v: 1 });
    await set.primary.command("WAIT", 1, 5000);
    await replica.kill();
    try {
      expect(await preferred.get(id)).toEqual({ v: 1 });
      expect(["UNAVAILABLE", "TIMEOUT"]).toContain((await rejection(strict.get(id))).code);
    } finally {
      await replica.restart();
      await set.primary.command("WAIT", 1, 10_000);
    }
  });
});

describe("option checks", () => {
  const url = "redis://:hunter2-secret@127.0.0.1:6379";
  const cases: Array<[string, RedisBackendOptions, string]> = [
    ["replica reads without replicas", { url, readFrom: "replica" }, "readFrom"],
    ["an unknown readFrom", { url, readers: ["redis://127.0.0.1:6380"], readFrom: "slave" as never }, "readFrom"],
    ["readers and sentinels together", { url, readers: ["redis://127.0.0.1:6380"], sentinels: [{ host: "127.0.0.1", port: 26379 }], name: "m" }, "readers / sentinels"],
    ["sentinels without a master name", { sentinels: [{ host: "127.0.0.1", port: 26379 }] }, "name"],
    ["a sentinel without a port", { sentinels: [{ host: "127.0.0.1" } as never], name: "m" }, "sentinels[].port"],
    ["a reader that is not a redis URL", { url, readers: ["http://:hunter2-secret@reader:6379"] }, "readers"],
    ["a reader URL with a bad port", { url, readers: ["redis://:hunter2-secret@reader:99999"] }, "readers"],
    ["dnsLookup without cluster", { url, dnsLookup: (() => undefined) as never }, "dnsLookup"],
    ["a cluster with a database other than 0", { url: "redis://127.0.0.1:7000/2", cluster: true }, "db"],
    ["waitForReplicas without a replica count", { url, waitForReplicas: { timeoutMs: 100 } as never }, "waitForReplicas.replicas"],
  ];
  for (const [what, options, option] of cases) {
    it(`rejects ${what} with CONFIG naming "${option}", never echoing the password`, async () => {
      const failure = await rejection(async () => redisBackend(options));
      expect(failure.code).toBe("CONFIG");
      expect(failure.message).toContain(`"${option}"`);
      expect(failure.message).not.toContain("hunter2");
    });
  }

  it("rejects a waitForReplicas.timeoutMs that does not fit the store's timeoutMs", async () => {
    const failure = await rejection(async () => createSessionStore({ timeoutMs: 500, backend: redisBackend({ url, readers: ["redis://127.0.0.1:6380"], waitForReplicas: { replicas: 1, timeoutMs: 500 } }) }));
    expect(failure.code).toBe("CONFIG");
    expect(failure.message).toContain("waitForReplicas.timeoutMs");
  });
});
