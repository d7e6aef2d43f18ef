import { performance } from "node:perf_hooks";
import { Redis } from "ioredis";
import { RedisStore } from "connect-redis-8";
import { createSessionStore } from "@sessionbridge/core";
import { startRedis } from "@sessionbridge/testing";
import { percentile, round } from "./stats.js";

/**
 * What `migrateFrom` costs: the first read of a session connect-redis 8 wrote (read ours → miss, read
 * theirs, create-only copy, delete theirs, set the TTL) against a later read of the moved session (one
 * GETEX). Store level, one client, `CONCURRENCY` reads in flight. Run: `pnpm exec tsx src/migrate-first-read.ts`.
 */
const SESSIONS = 4000;
const CONCURRENCY = 50;

async function timed(ids: string[], read: (id: string) => Promise<unknown>): Promise<{ p50Ms: number; p99Ms: number; clientCpuUs: number; perSec: number }> {
  const latencies: number[] = [];
  let next = 0;
  const cpu = process.cpuUsage();
  const start = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < ids.length) {
        const id = ids[next++] as string;
        const t = performance.now();
        if ((await read(id)) === null) throw new Error(`session ${id} was not found`);
        latencies.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  const used = process.cpuUsage(cpu);
  latencies.sort((a, b) => a - b);
  return { p50Ms: round(percentile(latencies, 50)), p99Ms: round(percentile(latencies, 99)), clientCpuUs: round((used.user + used.system) / ids.length), perSec: Math.round(ids.length / seconds) };
}

const server = await startRedis();
const client = new Redis(server.url);
try {
  const incumbent = new RedisStore({ client });
  const ids = Array.from({ length: SESSIONS }, (_, i) => `bench-${i}`);
  const cookie = { originalMaxAge: 86_400_000, expires: new Date(Date.now() + 86_400_000), httpOnly: true, path: "/" };
  await Promise.all(ids.map((id) => incumbent.set(id, { cookie, user: { id: 42, name: "Ada", roles: ["admin"] } } as never)));
  const store = createSessionStore({ url: server.url, prefix: "sb:", migrateFrom: { format: "connect-redis" } });
  const first = await timed(ids, (id) => store.load(id));
  const moved = await timed(ids, (id) => store.load(id));
  const left = (await client.keys("sess:*")).length;
  process.stdout.write(`${SESSIONS} sessions, ${CONCURRENCY} reads in flight, redis-server on loopback (left under the old prefix: ${left})\n`);
  process.stdout.write(`first read (moves it): ${JSON.stringify(first)}\n`);
  process.stdout.write(`read once moved:       ${JSON.stringify(moved)}\n`);
  await store.close();
} finally {
  client.disconnect();
  await server.dispose();
}
