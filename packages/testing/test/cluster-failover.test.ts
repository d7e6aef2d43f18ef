import { cpus } from "node:os";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createSessionStore, redisBackend } from "@sessionbridge/core";
import { countLost, startLoad } from "../src/failover-load.js";
import { stopProcess } from "../src/process.js";
import { startCluster, type ClusterTopology } from "../src/redis-topologies.js";
import { eventually } from "../src/wait.js";

// 3 masters + 3 replicas, cluster-node-timeout 2000: a master that stops answering is marked failed
// after ~2 s and its replica is elected in its place.
let cluster: ClusterTopology;

beforeAll(async () => {
  cluster = await startCluster();
});
afterAll(async () => {
  await cluster?.stop();
});

it("answers UNAVAILABLE or TIMEOUT, never hangs, while every node hangs (SIGSTOP), and recovers when they resume", async () => {
  const store = createSessionStore({ prefix: "sess:chang:", timeoutMs: 500, backend: redisBackend({ cluster: cluster.seeds() }) });
  try {
    await store.set("before", { v: 1 });
    for (const node of cluster.nodes) stopProcess(node.process.child.pid);
    let failures: unknown[];
    try {
      // Shorter than cluster-node-timeout, so the pause itself triggers no failover.
      failures = await Promise.all(Array.from({ length: 30 }, (_, i) => store.set(`hung-${i}`, { i }).then(() => null, (error: unknown) => error)));
    } finally {
      for (const node of cluster.nodes) node.process.child.kill("SIGCONT");
    }
    for (const failure of failures) expect(["TIMEOUT", "UNAVAILABLE"]).toContain((failure as { code?: string } | null)?.code);
    await eventually("the store works again", async () => {
      await store.set("after", { v: 2 });
      return true;
    });
    expect(await store.get("before")).toEqual({ v: 1 });
    expect(await store.get("after")).toEqual({ v: 2 });
    // A write already sent to a hung server runs when it wakes, after the store answered TIMEOUT: the
    // outcome of a timed-out write is unknown. Measured and documented, not asserted.
    const landedLate = (await Promise.all(failures.map((_, i) => store.get(`hung-${i}`)))).filter((data) => data !== null).length;
    console.log(`cluster hang: ${failures.length} writes answered TIMEOUT/UNAVAILABLE, ${landedLate} of them were applied once the nodes resumed`);
  } finally {
    await store.close();
  }
  await cluster.waitUntilHealthy();
});

it("resumes by itself after kill -9 of a master under load: its replica takes over the slots", async () => {
  const store = createSessionStore({ prefix: "sess:cfo:", timeoutMs: 1000, backend: redisBackend({ cluster: cluster.seeds(), readFrom: "replica-preferred" }) });
  try {
    await store.ping();
    const load = startLoad(store, { workers: 6, prefix: "c" });
    await load.writesSucceedAfterFault(50);
    const [victim] = await cluster.roles();
    const heir = victim!.replicas[0]!;
    load.markFault();
    await victim!.master.kill();
    await eventually("the replica was promoted", async () => (await cluster.roles()).some(({ master }) => master === heir), 45_000);
    // Sessions hash to every slot: once writes succeed steadily, the dead master's slots are served again.
    await load.writesSucceedAfterFault(150, 45_000);
    const report = await load.stop();
    const lost = await countLost(store, load.acknowledged());
    console.log(
      `cluster failover measurement: ${JSON.stringify(
        { machine: `${process.platform} ${process.arch}, ${cpus().length} cores`, cluster: "3 masters + 3 replicas, cluster-node-timeout 2000", ...report, acknowledged: load.acknowledged().size, lost },
        null,
        2,
      )}`,
    );
    for (const code of Object.keys(report.failuresByCode)) expect(["UNAVAILABLE", "TIMEOUT"]).toContain(code);
    // Without WAIT a write the dying master acknowledged but had not yet replicated is lost: measured
    // (above), not asserted. WAIT cannot help this shard until a new replica joins it.
  } finally {
    await store.close();
  }
}, 90_000);
