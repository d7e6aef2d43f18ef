import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createSessionStore, redisBackend, type RedisBackendOptions, type SessionStore } from "@sessionbridge/core";
import { rejection, uniquePrefix } from "../src/contract.js";
import { parseInfo, startReplicaSet, waitForReplicaSync, type RedisNode, type ReplicaSet } from "../src/redis-topologies.js";
import { countLost, startLoad } from "../src/failover-load.js";
import { eventually } from "../src/wait.js";

// READONLY (a primary demoted by a failover) and LOADING (a server reloading its data after a restart)
// on a standalone primary + replica: both are answered fast and typed, and the store recovers by itself.
const password = "replies-secret";
let set: ReplicaSet;
let primary: RedisNode;
let replica: RedisNode;

beforeAll(async () => {
  set = await startReplicaSet({ replicas: 1, password });
  primary = set.primary;
  replica = set.replicas[0] as RedisNode;
});
afterAll(async () => {
  await set?.stop();
});

const opened: SessionStore[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((store) => store.close()));
});
function open(backend: Partial<RedisBackendOptions> = {}): SessionStore {
  const store = createSessionStore({ prefix: "sess:rl:", timeoutMs: 1000, backend: redisBackend({ url: set.url(primary), ...backend }) });
  opened.push(store);
  return store;
}

/** Fills the server with `count` small keys and saves them, so a restart has something to load. */
async function fillAndSave(node: RedisNode, count: number): Promise<void> {
  await node.command("EVAL", `for i = 1, ${count} do redis.call('SET', 'filler:' .. i, 'x') end`, 0);
  await node.command("SAVE");
}
/**
 * key-load-delay (microseconds per key) stretches the load to a few seconds, long enough to observe;
 * answering clients every KB loaded (default: every 2 MB) lets them see LOADING instead of silence.
 */
const SLOW_LOAD = ["--key-load-delay", "100", "--loading-process-events-interval-bytes", "1024"];
const isLoading = async (node: RedisNode) => parseInfo(String(await node.command("INFO", "persistence"))).get("loading") === "1";

describe("READONLY: a primary demoted by REPLICAOF", () => {
  it("answers a write with UNAVAILABLE naming READONLY (after one reconnect and retry), and writes again once it is primary", async () => {
    const store = open();
    const id = uniquePrefix("ro");
    await store.set(id, { v: 1 });
    // Swap roles: the replica becomes primary and the old primary follows it.
    await replica.command("REPLICAOF", "NO", "ONE");
    await primary.command("REPLICAOF", replica.host, replica.port);
    try {
      await waitForReplicaSync(primary);
      const failure = await rejection(store.set(id, { v: 2 }));
      expect(failure.code).toBe("UNAVAILABLE");
      expect(failure.message).toContain("READONLY");
      expect(failure.message).not.toContain(password);
      expect(failure.message).not.toContain(id);
      // A read slides the TTL with GETEX, a write command: it needs the primary just the same.
      expect((await rejection(store.get(id))).message).toContain("READONLY");
    } finally {
      await primary.command("REPLICAOF", "NO", "ONE");
      await replica.command("REPLICAOF", primary.host, primary.port);
      await waitForReplicaSync(replica);
    }
    await eventually("writes succeed again", async () => {
      await store.set(id, { v: 3 });
      return true;
    });
    expect(await store.get(id)).toEqual({ v: 3 });
  });
});

describe("LOADING: a server restarted while it loads its data", () => {
  it("answers UNAVAILABLE naming LOADING while the primary loads, and serves the saved session once loaded", async () => {
    const store = open();
    const id = uniquePrefix("load");
    await store.set(id, { v: "saved" });
    await fillAndSave(primary, 20_000);
    await primary.restart(SLOW_LOAD);
    try {
      expect(await isLoading(primary)).toBe(true);
      // The first answers may still be "not connected (ECONNREFUSED)" from the restart itself, until the
      // backend's next reconnect attempt; then the loading server answers.
      let failure = { code: "", message: "" };
      await eventually("a read answered by the loading server", async () => {
        failure = await rejection(store.get(id));
        return failure.message.includes("LOADING");
      }, 10_000);
      expect(failure.code).toBe("UNAVAILABLE");
      expect(await isLoading(primary)).toBe(true); // the failure above was the loading server, not something else
    } finally {
      await eventually("the primary finished loading", async () => !(await isLoading(primary)), 60_000);
    }
    await eventually("reads succeed again", async () => (await store.get(id)) !== null);
    expect(await store.get(id)).toEqual({ v: "saved" });
    await primary.command("FLUSHALL");
    await waitForReplicaSync(replica);
  }, 90_000);

  it("resumes by itself when the primary restarts and reloads under continuous load: every failure meanwhile is UNAVAILABLE or TIMEOUT, and saved sessions survive", async () => {
    const store = open();
    await fillAndSave(primary, 20_000);
    const load = startLoad(store, { prefix: uniquePrefix("midload") });
    await load.writesSucceedAfterFault(20); // the load is running
    const before = new Map(load.acknowledged());
    await primary.command("SAVE"); // what was acknowledged so far is on disk: the restart loads it
    load.markFault();
    await primary.restart(SLOW_LOAD);
    let report;
    try {
      await eventually("the primary finished loading", async () => !(await isLoading(primary)), 60_000);
      await load.writesSucceedAfterFault(20);
    } finally {
      report = await load.stop();
    }
    console.log(JSON.stringify({ restartMidLoad: { ...report, messages: undefined } }));
    expect(report.failed).toBeGreaterThan(0); // the restart was noticed
    expect(Object.keys(report.failuresByCode).filter((code) => code !== "UNAVAILABLE" && code !== "TIMEOUT")).toEqual([]);
    expect(await countLost(store, before)).toBe(0);
    await primary.command("FLUSHALL");
    await waitForReplicaSync(replica);
  }, 90_000);

  it("keeps answering replica-preferred reads from the primary while the replica reloads (LOADING), and fails replica reads instead", async () => {
    const writer = open();
    const id = uniquePrefix("rload");
    await writer.set(id, { v: 1 });
    await primary.command("EVAL", "for i = 1, 20000 do redis.call('SET', 'filler:' .. i, 'x') end", 0);
    await primary.command("WAIT", 1, 5000);
    await replica.command("SAVE");
    const preferred = open({ readers: [set.url(replica)], readFrom: "replica-preferred" });
    const strict = open({ readers: [set.url(replica)], readFrom: "replica" });
    // The restarted replica loads its saved data (slowly) before it resumes replication.
    await replica.restart(SLOW_LOAD);
    try {
      await eventually("the replica is loading", () => isLoading(replica), 30_000, 20);
      // Once the readers are connected again the replica itself answers LOADING: a replica read fails…
      await eventually("a replica read answered LOADING", async () => {
        const failure = await rejection(strict.get(id));
        expect(failure.code).toBe("UNAVAILABLE");
        return failure.message.includes("LOADING");
      }, 10_000);
      // …and replica-preferred answers from the primary.
      expect(await preferred.get(id)).toEqual({ v: 1 });
      expect(await isLoading(replica)).toBe(true); // both reads happened during the load
    } finally {
      await eventually("the replica finished loading", async () => !(await isLoading(replica)), 60_000);
      await primary.command("FLUSHALL");
      await waitForReplicaSync(replica);
    }
  }, 90_000);
});
