import { performance } from "node:perf_hooks";
import { createSessionStore, redisBackend, type SessionStore } from "@sessionbridge/core";
import { Redis } from "ioredis";
import { createClient } from "redis";
import { USER, SESSION_MAX_AGE_MS } from "./payload.js";
import { redisCpuSeconds } from "./cpu.js";
import { percentile, round } from "./stats.js";

/** One timed closed-loop run: `concurrency` operations always in flight on one connection. */
export interface OpRound {
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU time per operation in this (client) process and in redis-server, µs: steadier than ops/s on a busy machine. */
  clientCpuUs: number;
  serverCpuUs: number;
}

export interface OpResult {
  name: string;
  /** The raw ioredis operation this core operation is compared with, if any. */
  baseline?: string;
  rounds: OpRound[];
  failure?: string;
}

const KEYS = 1000;
const log = (message: string) => process.stdout.write(`[bench] ${message}\n`);

async function closedLoop(operation: (i: number) => Promise<unknown>, seconds: number, concurrency: number, admin: Redis): Promise<OpRound> {
  const serverBefore = await redisCpuSeconds(admin);
  const clientBefore = process.cpuUsage();
  const latencies: number[] = [];
  const until = performance.now() + seconds * 1000;
  let counter = 0;
  const worker = async (): Promise<void> => {
    while (performance.now() < until) {
      const i = counter++;
      const start = performance.now();
      await operation(i % KEYS);
      latencies.push(performance.now() - start);
    }
  };
  const began = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (performance.now() - began) / 1000;
  const client = process.cpuUsage(clientBefore);
  const serverSeconds = (await redisCpuSeconds(admin)) - serverBefore;
  latencies.sort((a, b) => a - b);
  const ops = Math.max(1, latencies.length);
  return {
    opsPerSec: latencies.length / elapsed,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    clientCpuUs: round((client.user + client.system) / ops, 1),
    serverCpuUs: round((serverSeconds * 1e6) / ops, 1),
  };
}

/**
 * Core get / set / touch against raw ioredis GET / SET / PEXPIRE on the same server, one connection
 * each, the same number of operations in flight. Raw ioredis is the limit for the core: everything the
 * core adds (id checks, key derivation, codec, deadline) shows as the gap.
 */
export async function runStoreLevel(redisUrl: string, seconds: number, rounds: number, concurrency: number): Promise<OpResult[]> {
  const raw = new Redis(redisUrl);
  const admin = new Redis(redisUrl); // INFO cpu probes, off the measured connections
  const rawPipelined = new Redis(redisUrl, { enableAutoPipelining: true });
  // node-redis: raw, and the core store through a caller's node-redis client (docs/redis-clients.md).
  const rawNode = createClient({ url: redisUrl });
  const nodeForStore = createClient({ url: redisUrl, disableOfflineQueue: true });
  for (const client of [rawNode, nodeForStore]) client.on("error", () => undefined);
  await Promise.all([rawNode.connect(), nodeForStore.connect()]);
  const storeNode = createSessionStore({ backend: redisBackend({ client: nodeForStore }), ttlMs: SESSION_MAX_AGE_MS, prefix: "core-nr:" });
  let store: SessionStore | undefined;
  let storeFailure: string | undefined;
  try {
    store = createSessionStore({ url: redisUrl, ttlMs: SESSION_MAX_AGE_MS, prefix: "core:" });
  } catch (error) {
    storeFailure = error instanceof Error ? error.message : String(error);
  }
  const core = (): SessionStore => {
    if (!store) throw new Error(storeFailure);
    return store;
  };
  const data = { user: USER };
  const now = Date.now();
  // What the core stores for this session, give or take the version token: raw commands move the same bytes.
  const value = `sb1:AAAAAAAAAAAA:${JSON.stringify({ d: data, c: now, e: now + SESSION_MAX_AGE_MS, t: SESSION_MAX_AGE_MS })}`;
  const ops: Array<{ name: string; baseline?: string; run: (i: number) => Promise<unknown> }> = [
    { name: "raw ioredis GET", run: (i) => raw.get(`raw:${i}`) },
    { name: "raw ioredis GET, enableAutoPipelining", run: (i) => rawPipelined.get(`raw:${i}`) },
    { name: "raw ioredis GETEX PX", run: (i) => raw.getex(`raw:${i}`, "PX", SESSION_MAX_AGE_MS) },
    { name: "core get", baseline: "raw ioredis GET", run: (i) => core().get(`id-${i}`) },
    { name: "raw ioredis SET PX", run: (i) => raw.set(`raw:${i}`, value, "PX", SESSION_MAX_AGE_MS) },
    { name: "core set", baseline: "raw ioredis SET PX", run: (i) => core().set(`id-${i}`, data) },
    { name: "raw ioredis PEXPIRE", run: (i) => raw.pexpire(`raw:${i}`, SESSION_MAX_AGE_MS) },
    { name: "core touch", baseline: "raw ioredis PEXPIRE", run: (i) => core().touch(`id-${i}`) },
    { name: "raw node-redis GET", run: (i) => rawNode.get(`raw:${i}`) },
    { name: "core get, node-redis client", baseline: "raw node-redis GET", run: (i) => storeNode.get(`id-${i}`) },
    { name: "core set, node-redis client", run: (i) => storeNode.set(`id-${i}`, data) },
    { name: "core touch, node-redis client", run: (i) => storeNode.touch(`id-${i}`) },
  ];
  const results: OpResult[] = ops.map(({ name, baseline }) => (baseline ? { name, baseline, rounds: [] } : { name, rounds: [] }));
  if (storeFailure !== undefined) for (const result of results) if (result.name.startsWith("core")) result.failure = storeFailure;
  try {
    for (let i = 0; i < KEYS; i++) {
      await raw.set(`raw:${i}`, value, "PX", SESSION_MAX_AGE_MS);
      if (store) await store.set(`id-${i}`, data);
      await storeNode.set(`id-${i}`, data);
    }
    for (const [index, op] of ops.entries()) if (!results[index]?.failure) await closedLoop(op.run, Math.min(1, seconds), concurrency, admin); // warm-up
    for (let round = 1; round <= rounds; round++) {
      for (const [index, op] of ops.entries()) {
        const result = results[index] as OpResult;
        if (result.failure) continue;
        try {
          const measured = await closedLoop(op.run, seconds, concurrency, admin);
          result.rounds.push(measured);
          log(`store ${op.name} round ${round}: ${Math.round(measured.opsPerSec)} ops/s, p50 ${measured.p50Ms.toFixed(2)} ms, p99 ${measured.p99Ms.toFixed(2)} ms, CPU/op client ${measured.clientCpuUs} µs server ${measured.serverCpuUs} µs`);
        } catch (error) {
          result.failure = error instanceof Error ? error.message : String(error);
          log(`store ${op.name}: FAILED — ${result.failure}`);
        }
      }
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    log(`store level: FAILED — ${message}`);
    for (const result of results) if (result.rounds.length === 0) result.failure ??= message;
  } finally {
    raw.disconnect();
    admin.disconnect();
    rawPipelined.disconnect();
    await store?.close().catch(() => undefined);
    await storeNode.close().catch(() => undefined);
    rawNode.destroy();
    nodeForStore.destroy();
  }
  return results;
}
