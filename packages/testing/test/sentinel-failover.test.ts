import { afterAll, beforeAll, expect, it } from "vitest";
import { createSessionStore, redisBackend, type RedisBackendOptions, type SessionStore } from "@sessionbridge/core";
import { countLost, startLoad } from "../src/failover-load.js";
import { startSentinelTopology, type SentinelTopology } from "../src/redis-topologies.js";
import { eventually } from "../src/wait.js";

// A master, two replicas and three sentinels (quorum 2), down-after-milliseconds 1000. Two replicas so
// that after the failover one replica is left to acknowledge WAIT.
let topology: SentinelTopology;

beforeAll(async () => {
  topology = await startSentinelTopology({ replicas: 2, sentinels: 3 });
});
afterAll(async () => {
  await topology?.stop();
});

function store(extra: Partial<RedisBackendOptions>, prefix: string): SessionStore {
  return createSessionStore({ prefix, timeoutMs: 1000, backend: redisBackend({ sentinels: topology.sentinelAddresses(), name: topology.name, readFrom: "replica-preferred", ...extra }) });
}

it("resumes by itself after kill -9 of the master under load, and loses no session written with WAIT", async () => {
  const withWait = store({ waitForReplicas: { replicas: 1, timeoutMs: 500 } }, "sess:fo-wait:");
  const without = store({}, "sess:fo-async:");
  const stores = [withWait, without];
  try {
    await Promise.all(stores.map((s) => s.ping()));
    const loads = [startLoad(withWait, { workers: 4, prefix: "w" }), startLoad(without, { workers: 4, prefix: "a" })];
    await Promise.all(loads.map((load) => load.writesSucceedAfterFault(50))); // warm: traffic flows before the fault
    const oldMaster = await topology.masterPort();
    for (const load of loads) load.markFault();
    await topology.nodeAt(oldMaster)!.kill();
    // Outcome, not timing: both stores write successfully again without any restart.
    await Promise.all(loads.map((load) => load.writesSucceedAfterFault(50)));
    const [waitReport, asyncReport] = await Promise.all(loads.map((load) => load.stop()));
    const newMaster = await topology.masterPort();
    expect(newMaster).not.toBe(oldMaster);

    const lostWithWait = await countLost(withWait, loads[0]!.acknowledged());
    const lostWithout = await countLost(without, loads[1]!.acknowledged());
    const measured = {
      machine: `${process.platform} ${process.arch}, ${(await import("node:os")).cpus().length} cores`,
      sentinel: "3 sentinels, quorum 2, down-after-milliseconds 1000, failover-timeout 5000",
      withWait: { ...waitReport, acknowledged: loads[0]!.acknowledged().size, lost: lostWithWait },
      withoutWait: { ...asyncReport, acknowledged: loads[1]!.acknowledged().size, lost: lostWithout },
    };
    console.log(`sentinel failover measurement: ${JSON.stringify(measured, null, 2)}`);

    // Resumption itself was awaited above (writesSucceedAfterFault); here: what it cost.
    expect(lostWithWait).toBe(0);
    // Every failure was a typed, fast answer (the store's deadline), never a hang or a foreign error.
    for (const report of [waitReport!, asyncReport!]) {
      for (const code of Object.keys(report.failuresByCode)) expect(["UNAVAILABLE", "TIMEOUT"]).toContain(code);
    }
  } finally {
    await Promise.all(stores.map((s) => s.close()));
  }
  // The surviving replica follows the new master (Sentinel reconfigured it), so replication goes on.
  await eventually("the other replica follows the new master", async () => Number(await topology.nodeAt(await topology.masterPort())!.command("WAIT", 1, 100)) >= 1);
}, 60_000);

it("moves to the new master after a switchover (SENTINEL FAILOVER: the old master is demoted, not killed); WAIT loses nothing", async () => {
  const withWait = store({ waitForReplicas: { replicas: 1, timeoutMs: 500 } }, "sess:sw-wait:");
  const without = store({}, "sess:sw-async:");
  const stores = [withWait, without];
  try {
    await Promise.all(stores.map((s) => s.ping()));
    const loads = [startLoad(withWait, { workers: 4, prefix: "w" }), startLoad(without, { workers: 4, prefix: "a" })];
    await Promise.all(loads.map((load) => load.writesSucceedAfterFault(50)));
    const oldMaster = await topology.masterPort();
    for (const load of loads) load.markFault();
    // Sentinel may still be settling after the previous failover: ask until it starts this one.
    await eventually("sentinel starts the switchover", async () => (await topology.sentinels[0]!.command("SENTINEL", "FAILOVER", topology.name)) === "OK", 30_000, 200);
    await eventually("a new master", async () => (await topology.masterPort()) !== oldMaster, 30_000);
    await Promise.all(loads.map((load) => load.writesSucceedAfterFault(50)));
    const [waitReport, asyncReport] = await Promise.all(loads.map((load) => load.stop()));
    const lostWithWait = await countLost(withWait, loads[0]!.acknowledged());
    const lostWithout = await countLost(without, loads[1]!.acknowledged());
    console.log(
      `sentinel switchover measurement: ${JSON.stringify(
        { withWait: { ...waitReport, acknowledged: loads[0]!.acknowledged().size, lost: lostWithWait }, withoutWait: { ...asyncReport, acknowledged: loads[1]!.acknowledged().size, lost: lostWithout } },
        null,
        2,
      )}`,
    );
    expect(lostWithWait).toBe(0);
    for (const report of [waitReport!, asyncReport!]) {
      for (const code of Object.keys(report.failuresByCode)) expect(["UNAVAILABLE", "TIMEOUT"]).toContain(code);
    }
  } finally {
    await Promise.all(stores.map((s) => s.close()));
  }
}, 90_000);
