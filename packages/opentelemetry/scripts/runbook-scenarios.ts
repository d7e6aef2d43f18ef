import { performance } from "node:perf_hooks";
import { AggregationTemporality, MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
import { createSessionStore, memcachedBackend, redisBackend, type SessionStore } from "@sessionbridge/core";
import { startMemcachedNodes, startRedis, startSentinelTopology } from "@sessionbridge/testing";
import { registerSessionbridgeInstrumentation } from "../src/index.js";

/**
 * The runs behind docs/operations.md's "what it looks like": real servers, a steady load of session reads
 * and writes, one incident each (Redis stopped and restarted, a Sentinel failover, a Memcached node
 * killed, an encryption... key rotation), and the metrics @sessionbridge/opentelemetry recorded, second by
 * second. Run: `pnpm --filter @sessionbridge/opentelemetry exec tsx scripts/runbook-scenarios.ts`.
 */

class Reader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.DELTA });
  }
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

const reader = new Reader();
const meterProvider = new MeterProvider({ readers: [reader] });
registerSessionbridgeInstrumentation({ meterProvider });

const SESSIONS = 200;
const CONCURRENCY = 20;

/** Steady load: each worker reads a random session and writes one in ten. Returns a stop function. */
function load(store: SessionStore): () => Promise<void> {
  let running = true;
  const workers = Array.from({ length: CONCURRENCY }, async () => {
    while (running) {
      const id = `runbook-session-${Math.floor(Math.random() * SESSIONS)}`;
      try {
        const loaded = await store.load(id);
        if (loaded === null || Math.random() < 0.1) await store.save(id, { n: Math.random() }, { previous: loaded });
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 10)); // an outage: do not spin
      }
    }
  });
  return async () => {
    running = false;
    await Promise.all(workers);
  };
}

interface Row {
  second: number;
  event: string;
  ops: number;
  p99Ms: string;
  hits: number;
  misses: number;
  timeouts: number;
  unavailable: number;
  corrupt: number;
  outages: number;
  reconnects: number;
  available: string;
}

/** One second's metric points (DELTA temporality: what happened since the last collect). */
async function sample(second: number, event: string): Promise<Row> {
  const { resourceMetrics } = await reader.collect();
  const metrics = resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics);
  const sum = (name: string) => (metrics.find((m) => m.descriptor.name === name)?.dataPoints ?? []).reduce((total, point) => total + (point.value as number), 0);
  const duration = metrics.find((m) => m.descriptor.name === "db.client.operation.duration");
  let ops = 0;
  let max = 0;
  const buckets = new Map<number, number>();
  for (const point of duration?.dataPoints ?? []) {
    const value = point.value as { count: number; max?: number; buckets: { boundaries: number[]; counts: number[] } };
    ops += value.count;
    max = Math.max(max, value.max ?? 0);
    value.buckets.counts.forEach((count, i) => buckets.set(i, (buckets.get(i) ?? 0) + count));
    if (buckets.size > 0) (sample as unknown as { boundaries: number[] }).boundaries = value.buckets.boundaries;
  }
  // p99 as the upper bound of the bucket holding it (ms).
  const boundaries = (sample as unknown as { boundaries?: number[] }).boundaries ?? [];
  let seen = 0;
  let p99 = "—";
  for (const [i, count] of [...buckets.entries()].sort((a, b) => a[0] - b[0])) {
    seen += count;
    if (ops > 0 && seen >= ops * 0.99) {
      p99 = i < boundaries.length ? `≤ ${(boundaries[i] as number) * 1000}` : `> ${(boundaries.at(-1) ?? 0) * 1000}`;
      break;
    }
  }
  const gauge = metrics.find((m) => m.descriptor.name === "sessionbridge.backend.available")?.dataPoints.map((point) => point.value as number) ?? [];
  return { second, event, ops, p99Ms: p99, hits: sum("sessionbridge.hits"), misses: sum("sessionbridge.misses"), timeouts: sum("sessionbridge.timeouts"), unavailable: sum("sessionbridge.unavailable"), corrupt: sum("sessionbridge.corrupt"), outages: sum("sessionbridge.outages"), reconnects: sum("sessionbridge.reconnects"), available: gauge.length === 0 ? "—" : gauge.join(",") };
}

/** Runs a load for `seconds`, calling `incidents[second]` at that second, and prints the timeline. */
async function timeline(title: string, store: SessionStore, seconds: number, incidents: Record<number, [string, () => Promise<void>]>): Promise<void> {
  for (let i = 0; i < SESSIONS; i++) await store.set(`runbook-session-${i}`, { n: i });
  await reader.collect(); // forget the set-up
  const stop = load(store);
  const rows: Row[] = [];
  const started = performance.now();
  for (let second = 1; second <= seconds; second++) {
    const incident = incidents[second - 1];
    let event = "";
    if (incident !== undefined) {
      event = incident[0];
      void incident[1]().catch((error: unknown) => console.error(`${title}: ${event} failed`, error));
    }
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, started + second * 1000 - performance.now())));
    rows.push(await sample(second, event));
  }
  await stop();
  console.log(`\n### ${title}\n`);
  console.log("| s | event | operations | p99 ms | hits | misses | timeouts | unavailable | corrupt | outages | reconnects | available |");
  console.log("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
  for (const r of rows) console.log(`| ${r.second} | ${r.event} | ${r.ops} | ${r.p99Ms} | ${r.hits} | ${r.misses} | ${r.timeouts} | ${r.unavailable} | ${r.corrupt} | ${r.outages} | ${r.reconnects} | ${r.available} |`);
}

const only = process.argv[2];

if (only === undefined || only === "outage") {
  const redis = await startRedis();
  const store = createSessionStore({ url: redis.url, prefix: "runbook-outage:", timeoutMs: 500 });
  await timeline("Redis stopped for 3 s, then restarted (timeoutMs 500)", store, 8, {
    2: ["redis-server stopped", () => redis.kill()],
    5: ["redis-server restarted", () => redis.restart()],
  });
  await store.close();
  await redis.dispose();
}

if (only === undefined || only === "pause") {
  // A hung server (SIGSTOP: connections stay open, nothing answers), what the demo's "Pause Redis" does.
  const redis = await startRedis();
  const store = createSessionStore({ url: redis.url, prefix: "runbook-pause:", timeoutMs: 500 });
  await timeline("Redis paused (SIGSTOP) for 3 s, then resumed (timeoutMs 500)", store, 8, {
    2: ["redis-server paused", async () => redis.pause()],
    5: ["redis-server resumed", async () => redis.resume()],
  });
  await store.close();
  await redis.dispose();
}

if (only === undefined || only === "failover") {
  const topology = await startSentinelTopology({ replicas: 1, sentinels: 1 });
  const store = createSessionStore({ backend: redisBackend({ sentinels: topology.sentinelAddresses(), name: topology.name }), prefix: "runbook-failover:", timeoutMs: 1000 });
  await timeline("Sentinel failover: the master killed (down-after-milliseconds 1000)", store, 10, {
    2: ["master killed", () => topology.primary.kill()],
  });
  await store.close();
  await topology.stop();
}

if (only === undefined || only === "memcached") {
  const nodes = await startMemcachedNodes(3);
  const store = createSessionStore({ backend: memcachedBackend({ servers: nodes.map((node) => node.address) }), prefix: "runbook-mc:", timeoutMs: 500 });
  await timeline("Memcached: one of three nodes killed", store, 7, {
    2: ["node 3 killed", () => (nodes[2] as (typeof nodes)[number]).kill()],
  });
  const health = await store.health();
  console.log(`\nhealth() afterwards: ok ${health.ok}, ${health.nodes.filter((node) => !node.reachable).length} of ${health.nodes.length} nodes down`);
  await store.close();
  await Promise.all(nodes.map((node) => node.dispose()));
}

if (only === undefined || only === "rotation") {
  const redis = await startRedis();
  const oldSecret = "an old key secret of at least thirty-two characters!";
  const newSecret = "a new key secret of at least thirty-two characters!!";
  const before = createSessionStore({ url: redis.url, prefix: "runbook-rotation:", keySecret: oldSecret, timeoutMs: 500 });
  for (let i = 0; i < SESSIONS; i++) await before.set(`runbook-session-${i}`, { n: i });
  await before.close();
  const store = createSessionStore({ url: redis.url, prefix: "runbook-rotation:", keySecret: [newSecret, oldSecret], timeoutMs: 500 });
  // No set-up writes here: the sessions exist under the old secret's keys only.
  await reader.collect();
  const stop = load(store);
  const rows: Row[] = [];
  for (let second = 1; second <= 4; second++) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    rows.push(await sample(second, second === 1 ? "new keySecret first" : ""));
  }
  await stop();
  console.log("\n### Key rotation: keySecret [new, old] over 200 sessions written under the old one\n");
  console.log("| s | event | operations | p99 ms | hits | misses |\n|---:|---|---:|---:|---:|---:|");
  for (const r of rows) console.log(`| ${r.second} | ${r.event} | ${r.ops} | ${r.p99Ms} | ${r.hits} | ${r.misses} |`);
  await store.close();
  await redis.dispose();
}

if (only === undefined || only === "encryption") {
  // encryptionKeys rotation over sessions sealed with the old key: [new, old] (the documented way), and
  // [new] alone, the old key dropped while sessions sealed with it still live (the corrupt counter's case).
  const redis = await startRedis();
  const oldKey = { id: "old", key: Buffer.alloc(32, 1) };
  const newKey = { id: "new", key: Buffer.alloc(32, 2) };
  const prefix = "runbook-encryption:";
  const rows: Row[] = [];
  for (const [event, keys, seconds] of [["encryptionKeys [new, old]", [newKey, oldKey], 3], ["encryptionKeys [new] (old dropped)", [newKey], 3]] as const) {
    // Each phase starts from sessions sealed with the old key only (a read under [new, old] seals again).
    const before = createSessionStore({ url: redis.url, prefix, encryptionKeys: [oldKey], timeoutMs: 500 });
    for (let i = 0; i < SESSIONS; i++) await before.set(`runbook-session-${i}`, { n: i });
    await before.close();
    const store = createSessionStore({ url: redis.url, prefix, encryptionKeys: [...keys], timeoutMs: 500 });
    await reader.collect();
    const stop = load(store);
    for (let second = 1; second <= seconds; second++) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      rows.push(await sample(rows.length + 1, second === 1 ? event : ""));
    }
    await stop();
    await store.close();
  }
  console.log("\n### encryptionKeys rotation over 200 sessions sealed with the old key\n");
  console.log("| s | event | operations | p99 ms | hits | misses | corrupt | timeouts | unavailable | outages |\n|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const r of rows) console.log(`| ${r.second} | ${r.event} | ${r.ops} | ${r.p99Ms} | ${r.hits} | ${r.misses} | ${r.corrupt} | ${r.timeouts} | ${r.unavailable} | ${r.outages} |`);
  await redis.dispose();
}

await meterProvider.shutdown();
