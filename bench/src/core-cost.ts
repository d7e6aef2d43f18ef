// `pnpm --filter @sessionbridge/bench run core-cost [requests] [--redis]`: what the store costs a request in
// CPU with no framework and no HTTP — 50 requests in flight, each a read, then for a changed session a save —
// next to the incumbent doing the same, in alternated rounds, CPU µs per request from process.cpuUsage (all
// of the process's threads, so garbage collection counts). Far steadier than the HTTP rows (rounds within
// ±15 % on a busy host, against 0.7–2× there), and it isolates the store: what is left between two rows
// here is the store's own work.
// - default: the memory backend against express-session's MemoryStore (no network);
// - `--redis`: a private redis-server; ours through ioredis and through a node-redis client, against
//   connect-redis 8 (ioredis) and connect-redis 9 (node-redis), and raw node-redis GET + SET as the floor;
// - `--alloc [--top=N]`: instead of CPU, the bytes each row allocates per request (garbage included) and
//   the N functions that allocate the most (./alloc.ts): garbage collection is a large share of a write's cost.
import session from "express-session";
import { RedisStore as RedisStore8 } from "connect-redis-8";
import { RedisStore as RedisStore9 } from "connect-redis";
import { Redis } from "ioredis";
import { createClient } from "redis";
import { createSessionStore, redisBackend, type SessionStore } from "@sessionbridge/core";
import { detachData, SessionTracker } from "@sessionbridge/core/adapter";
import { USER } from "./payload.js";
import { startRedis } from "./servers.js";
import { callback, microsPerRequest, SESSION_IDS } from "./in-flight.js";
import { median } from "./stats.js";
import { allocationsPerRequest, formatTop, topCountOption } from "./alloc.js";

type Mode = "read" | "rolling" | "write";
/** One request's store work: read the session, then save it (changed for "write") or touch it ("rolling"). */
type Row = (id: string, mode: Mode) => Promise<void>;

const args = process.argv.slice(2);
const onRedis = args.includes("--redis");
const allocations = args.includes("--alloc");
const topCount = topCountOption(args, 8);
const requests = Number(args.find((arg) => /^\d+$/.test(arg)) ?? (onRedis ? 20_000 : 40_000));
const ids = SESSION_IDS;
const DAY = 86_400_000;
const cookie = () => ({ originalMaxAge: DAY, expires: new Date(Date.now() + DAY) });

// The application's own work between the read and the save: the budget has spent time, as in a real request.
const appWork = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Ours as an adapter drives it: a request budget, the tracker linking the framework's session to its load. */
async function ourRow(store: SessionStore): Promise<Row> {
  const tracker = new SessionTracker(store);
  for (const id of ids) await store.set(id, { user: USER, views: 0 });
  return async (id, mode) => {
    const budget = {};
    const holder = {};
    const loaded = await tracker.load(id, budget);
    if (mode === "read" || loaded === null) return;
    tracker.attach(holder, loaded);
    const data = detachData(loaded);
    if (mode === "write") data.views = Number(data.views ?? 0) + 1;
    await appWork();
    Object.assign(budget, { spentMs: 1 });
    await tracker.commit(id, holder, data, { budget });
  };
}

interface CallbackStore {
  get(id: string, callback: (error: unknown, session?: unknown) => void): void;
  set(id: string, session: unknown, callback: (error?: unknown) => void): void;
  touch(id: string, session: unknown, callback: (error?: unknown) => void): void;
}

/** An express-session store as express-session drives it: get; a changed session is set, an unchanged one touched. */
async function theirRow(store: CallbackStore): Promise<Row> {
  const call = callback<unknown>;
  for (const id of ids) await call((done) => store.set(id, { cookie: cookie(), user: USER, views: 0 }, done));
  return async (id, mode) => {
    const sess = (await call((done) => store.get(id, done))) as { views: number };
    if (mode === "read") return;
    if (mode === "write") sess.views += 1;
    await appWork();
    await call((done) => (mode === "write" ? store.set(id, sess, done) : store.touch(id, sess, done)));
  };
}

/** CPU of this process (every thread, so garbage collection counts), µs. */
const processMicros = () => {
  const used = process.cpuUsage();
  return used.user + used.system;
};

function cpuPerRequest(row: Row, mode: Mode, total: number): Promise<number> {
  return microsPerRequest((id) => row(id, mode), total, processMicros);
}

const cleanup: Array<() => Promise<unknown>> = [];
const rows = new Map<string, Row>();
if (onRedis) {
  const redis = await startRedis();
  cleanup.push(() => redis.stop());
  const url = `redis://127.0.0.1:${redis.port}`;
  const nodeRedis = async () => {
    const client = createClient({ url });
    client.on("error", () => undefined);
    await client.connect();
    cleanup.unshift(() => client.quit());
    return client;
  };
  const ours = createSessionStore({ url, ttlMs: DAY });
  const oursNodeRedis = createSessionStore({ backend: redisBackend({ client: await nodeRedis() }), ttlMs: DAY });
  cleanup.unshift(() => ours.close(), () => oursNodeRedis.close());
  const ioredis = new Redis(url);
  cleanup.unshift(() => ioredis.quit());
  const raw = await nodeRedis();
  rows.set("ours (ioredis)", await ourRow(ours));
  rows.set("ours (node-redis)", await ourRow(oursNodeRedis));
  rows.set("connect-redis 8 (ioredis)", await theirRow(new RedisStore8({ client: ioredis, prefix: "cr8:" }) as unknown as CallbackStore));
  rows.set("connect-redis 9 (node-redis)", await theirRow(new RedisStore9({ client: await nodeRedis(), prefix: "cr9:" }) as unknown as CallbackStore));
  // The floor: what any store on node-redis needs at least (GET + JSON.parse, then JSON.stringify + SET or EXPIRE).
  rows.set("raw node-redis GET + SET", async (id, mode) => {
    const key = `raw:${id}`;
    const text = await raw.get(key);
    const sess = text === null ? { cookie: cookie(), user: USER, views: 0 } : (JSON.parse(text) as { views: number });
    if (mode === "read") return;
    if (mode === "write") sess.views += 1;
    await appWork();
    await (mode === "write" ? raw.set(key, JSON.stringify(sess), { PX: DAY }) : raw.pExpire(key, DAY));
  });
} else {
  const store = createSessionStore({ url: "memory://", ttlMs: DAY });
  cleanup.push(() => store.close());
  rows.set("core (memory)", await ourRow(store));
  rows.set("express-session MemoryStore", await theirRow(new session.MemoryStore() as unknown as CallbackStore));
}

const names = [...rows.keys()];
const incumbents = names.slice(onRedis ? 2 : 1, onRedis ? 4 : 2);
const MODES = ["read", "rolling", "write"] as const;

/** `--alloc`: bytes each row allocates per request, and where. */
async function reportAllocations(): Promise<void> {
  const total = Math.min(requests, 10_000);
  for (const mode of MODES) {
    process.stdout.write(`${mode} (bytes allocated per request, garbage included)\n`);
    for (const [name, row] of rows) {
      await cpuPerRequest(row, mode, 2000); // warm-up: optimised code allocates differently
      const found = await allocationsPerRequest(() => cpuPerRequest(row, mode, total).then(() => undefined), total, topCount);
      process.stdout.write(`  ${name.padEnd(30)} ${found.bytesPerRequest.toFixed(0).padStart(7)} B/request\n`);
      process.stdout.write(formatTop(found, "      "));
    }
  }
}

/** CPU per request of each row in 5 alternated rounds, and its same-round ratios to the incumbents. */
async function reportCpu(): Promise<void> {
  for (const mode of MODES) {
    for (const row of rows.values()) await cpuPerRequest(row, mode, 5000); // warm-up
    const cpu = new Map(names.map((name) => [name, [] as number[]]));
    for (let round = 0; round < 5; round++) for (const [name, row] of rows) cpu.get(name)?.push(await cpuPerRequest(row, mode, requests));
    process.stdout.write(`${mode}\n`);
    for (const name of names) {
      const own = cpu.get(name) as number[];
      const ratios = incumbents.filter((other) => other !== name).map((other) => {
        const rounds = own.map((value, i) => value / ((cpu.get(other) as number[])[i] as number));
        return `${median(rounds).toFixed(2)}× ${other} (rounds ${rounds.map((r) => r.toFixed(2)).join(", ")})`;
      });
      process.stdout.write(`  ${name.padEnd(30)} ${median(own).toFixed(1).padStart(6)} µs/request  ${ratios.join(" · ")}\n`);
    }
  }
}

await (allocations ? reportAllocations() : reportCpu());
for (const step of cleanup) await step();
