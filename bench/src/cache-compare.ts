import { Redis } from "ioredis";
import { BentoCache, bentostore } from "bentocache";
import { memoryDriver } from "bentocache/drivers/memory";
import { redisDriver } from "bentocache/drivers/redis";
import { createCache as createCacheManager } from "cache-manager";
import { Keyv } from "keyv";
import KeyvRedis from "@keyv/redis";
import { cachified, totalTtl, type Cache as CachifiedCache, type CacheEntry } from "@epic-web/cachified";
import { redisBackend } from "@sessionbridge/core";
import { createCache } from "@sessionbridge/cache";
import { startRedis } from "@sessionbridge/testing";
import { round } from "./stats.js";

/**
 * @sessionbridge/cache against what users would pick instead, on the same redis-server:
 * - hit path: app CPU per read (process.cpuUsage) and reads/s, 50 concurrent callers, the value cached;
 * - stampede: 1,000 concurrent misses of one key → loader calls, in one process and over 3 instances.
 * Rounds alternate the libraries so a busy machine hurts all alike; medians are reported.
 * Run: `pnpm --filter @sessionbridge/bench exec tsx src/cache-compare.ts` (needs redis-server).
 */
const OPS = Number(process.env.CACHE_BENCH_OPS ?? 20_000);
const ROUNDS = Number(process.env.CACHE_BENCH_ROUNDS ?? 3);
const CONCURRENCY = 50;
const ROW = { id: 42, name: "Stainless teapot, 1.2 l", priceCents: 3499, stock: 17, tags: ["kitchen", "tea"], updatedAt: "2026-12-01T10:00:00.000Z", version: 3 };

const server = await startRedis({ kind: "plain" });
const url = server.url;
const loaderDelayMs = 20; // a database query

interface Contender {
  name: string;
  /** A read through the library's lazy-loading call. */
  read(key: string, loader: () => Promise<unknown>): Promise<unknown>;
  close(): Promise<void>;
}

type Factory = () => Contender;

const factories: Record<string, Factory> = {
  "@sessionbridge/cache": () => {
    const cache = createCache({ backend: redisBackend({ url }), prefix: "sbc:", ttlMs: 600_000 });
    return { name: "@sessionbridge/cache", read: (key, loader) => cache.getOrLoad(key, loader), close: () => cache.close() };
  },
  "@sessionbridge/cache + firstTier": () => {
    const cache = createCache({ backend: redisBackend({ url }), prefix: "sbc1:", ttlMs: 600_000, firstTier: true });
    return { name: "@sessionbridge/cache + firstTier", read: (key, loader) => cache.getOrLoad(key, loader), close: () => cache.close() };
  },
  bentocache: () => {
    const bento = new BentoCache({ default: "cache", stores: { cache: bentostore().useL2Layer(redisDriver({ connection: { host: "127.0.0.1", port: server.port }, prefix: "bento" })) } });
    return { name: "bentocache (Redis)", read: (key, loader) => bento.getOrSet({ key, factory: loader, ttl: "10m" }), close: () => bento.disconnectAll() };
  },
  "bentocache + memory": () => {
    const bento = new BentoCache({ default: "cache", stores: { cache: bentostore().useL1Layer(memoryDriver({ maxSize: "10mb" })).useL2Layer(redisDriver({ connection: { host: "127.0.0.1", port: server.port }, prefix: "bento1" })) } });
    return { name: "bentocache (memory + Redis)", read: (key, loader) => bento.getOrSet({ key, factory: loader, ttl: "10m" }), close: () => bento.disconnectAll() };
  },
  "cache-manager": () => {
    const cache = createCacheManager({ stores: [new Keyv({ store: new KeyvRedis(url), namespace: "cm" })] });
    return { name: "cache-manager + @keyv/redis", read: (key, loader) => cache.wrap(key, loader, 600_000), close: async () => void (await cache.disconnect()) };
  },
  cachified: () => {
    const redis = new Redis(url);
    // The adapter cachified's README shows for Redis.
    const cache: CachifiedCache = {
      async get(key) {
        const text = await redis.get(`cf:${key}`);
        return text === null ? null : (JSON.parse(text) as CacheEntry);
      },
      async set(key, value) {
        const ttl = totalTtl(value?.metadata);
        if (ttl === Infinity) await redis.set(`cf:${key}`, JSON.stringify(value));
        else await redis.set(`cf:${key}`, JSON.stringify(value), "PX", Math.max(1, Math.ceil(ttl)));
      },
      async delete(key) {
        await redis.del(`cf:${key}`);
      },
    };
    return { name: "@epic-web/cachified (ioredis adapter)", read: (key, loader) => cachified({ key, cache, getFreshValue: loader, ttl: 600_000 }), close: async () => void redis.disconnect() };
  },
};

/**
 * `keys` 1: every caller reads the same hot key (a library that coalesces concurrent reads of one key
 * sends fewer commands); 1000: callers read different keys, so every read is its own round trip.
 */
async function hitPath(contender: Contender, keys: number): Promise<{ cpuUsPerOp: number; opsPerSec: number }> {
  const loader = async () => ROW;
  for (let k = 0; k < keys; k++) await contender.read(`product:${k}`, loader);
  for (let i = 0; i < 1000; i++) await contender.read(`product:${i % keys}`, loader); // warm-up
  let issued = 0;
  const cpu = process.cpuUsage();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (issued < OPS) {
        issued++;
        await contender.read(`product:${issued % keys}`, loader);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  return { cpuUsPerOp: (used.user + used.system) / OPS, opsPerSec: OPS / seconds };
}

async function stampede(make: Factory, instances: number, run: number): Promise<number> {
  const opened = Array.from({ length: instances }, () => make());
  let calls = 0;
  const loader = async () => {
    calls++;
    await new Promise((resolve) => setTimeout(resolve, loaderDelayMs));
    return ROW;
  };
  const key = `stampede:${run}:${instances}`;
  await Promise.all(Array.from({ length: 1000 }, (_, i) => (opened[i % instances] as Contender).read(key, loader)));
  await Promise.all(opened.map((c) => c.close()));
  return calls;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
const results = new Map<string, { name: string; cpu: number[]; ops: number[]; cpuMany: number[]; opsMany: number[]; one: number[]; three: number[] }>();
for (let r = 0; r < ROUNDS; r++) {
  for (const [id, make] of Object.entries(factories)) {
    const contender = make();
    const entry = results.get(id) ?? { name: contender.name, cpu: [], ops: [], cpuMany: [], opsMany: [], one: [], three: [] };
    results.set(id, entry);
    const hot = await hitPath(contender, 1);
    const spread = await hitPath(contender, 1000);
    await contender.close();
    entry.cpu.push(hot.cpuUsPerOp);
    entry.ops.push(hot.opsPerSec);
    entry.cpuMany.push(spread.cpuUsPerOp);
    entry.opsMany.push(spread.opsPerSec);
    entry.one.push(await stampede(make, 1, r));
    entry.three.push(await stampede(make, 3, r));
  }
}

const lines = [
  `Cache comparison on redis-server (${new Date().toISOString()}, Node ${process.version}, ${OPS} reads × ${ROUNDS} rounds, ${CONCURRENCY} concurrent callers; load average ${(await import("node:os")).loadavg().map((v) => v.toFixed(2)).join(" ")}):`,
  "",
  "| library | hit, 1,000 keys: app CPU µs/read | reads/s | hit, one hot key: app CPU µs/read | reads/s | stampede, 1 instance: loader calls / 1,000 misses | stampede, 3 instances |",
  "|---|---:|---:|---:|---:|---:|---:|",
  ...[...results.values()].map((e) => `| ${e.name} | ${round(median(e.cpuMany))} | ${Math.round(median(e.opsMany)).toLocaleString("en")} | ${round(median(e.cpu))} | ${Math.round(median(e.ops)).toLocaleString("en")} | ${median(e.one)} (max ${Math.max(...e.one)}) | ${median(e.three)} (max ${Math.max(...e.three)}) |`),
];
console.log(lines.join("\n"));
await server.dispose();
process.exit(0);
