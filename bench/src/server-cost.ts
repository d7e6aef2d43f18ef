// `pnpm --filter @sessionbridge/bench run server-cost [requests]`: what one changed session costs the
// redis-server in CPU, per request, for our write against the incumbent's and against the command
// shapes a cheaper safe write would have to use — 50 requests in flight on one node-redis connection
// (auto-pipelined, so the server reads many commands per syscall and the per-command cost shows),
// redis-server CPU from /proc around each round, alternated rounds.
// - ours: a load (GETEX, sliding the TTL) and a changed save (EVALSHA of the compare-and-set script:
//   GET, compare the version prefix, SET PX) through the store, as every adapter drives it;
// - our backend alone: the same GETEX and compare-and-set sent straight through the Redis backend;
// - connect-redis 9: get (GET) and set (SET PX);
// - raw GET + SET PX: the floor of a blind write;
// - raw GETEX PX + SET PX XX GET: the cheapest shape without Lua (the old value comes back, so a lost
//   race can be seen), which is not safe: between the write and a repair another request's change is
//   missing, and lost for good if the process dies or the repair times out (docs/benchmarks.md).
import { RedisStore } from "connect-redis";
import { createClient } from "redis";
import { createSessionStore, redisBackend } from "@sessionbridge/core";
import { detachData, SessionTracker } from "@sessionbridge/core/adapter";
import { processCpuSeconds } from "./cpu.js";
import { USER } from "./payload.js";
import { startRedis } from "./servers.js";
import { callback as call, microsPerRequest, SESSION_IDS as ids } from "./in-flight.js";
import { median } from "./stats.js";

const requests = Number(process.argv.slice(2).find((arg) => /^\d+$/.test(arg)) ?? 30_000);
const DAY = 86_400_000;
type Row = (id: string) => Promise<void>;

const redis = await startRedis();
const url = `redis://127.0.0.1:${redis.port}`;
const clients: Array<ReturnType<typeof createClient>> = [];
const nodeRedis = async () => {
  const client = createClient({ url });
  client.on("error", () => undefined);
  await client.connect();
  clients.push(client);
  return client;
};

const rows = new Map<string, Row>();
const ours = createSessionStore({ backend: redisBackend({ client: await nodeRedis() }), ttlMs: DAY });
const tracker = new SessionTracker(ours);
for (const id of ids) await ours.set(id, { user: USER, views: 0 });
rows.set("ours: GETEX + EVALSHA (compare-and-set)", async (id) => {
  const holder = {};
  const loaded = await tracker.load(id);
  if (loaded === null) throw new Error(`session ${id} missing`);
  tracker.attach(holder, loaded);
  const data = detachData(loaded);
  data.views = Number(data.views ?? 0) + 1;
  await tracker.commit(id, holder, data);
});

// The same two commands sent straight through our backend, without the store's layers between them. Both
// rows run the same commands in about the same socket reads per request (INFO commandstats,
// total_reads_processed); what the server spends more through the store was not found (docs/benchmarks.md).
const backend = redisBackend({ client: await nodeRedis() });
backend.configure?.({ timeoutMs: 1000 });
const VERSION = "v1:abcdefghijkl|";
const versioned = (views: number) => `${VERSION}${JSON.stringify({ user: USER, views })}`;
for (const id of ids) await backend.set(`direct:${id}`, versioned(0), DAY);
rows.set("our backend alone: GETEX + EVALSHA", async (id) => {
  const body = await backend.get(`direct:${id}`, { refreshTtlMs: DAY });
  const sess = JSON.parse((body ?? VERSION + "{}").slice(VERSION.length)) as { views: number };
  const result = await backend.set(`direct:${id}`, versioned(sess.views + 1), DAY, { kind: "version", prefix: VERSION });
  if (result !== "ok") throw new Error(`compare-and-set answered ${result}`);
});

const connectRedis = new RedisStore({ client: await nodeRedis(), prefix: "cr9:" }) as unknown as {
  get(id: string, callback: (error: unknown, session?: { views: number }) => void): void;
  set(id: string, session: object, callback: (error?: unknown) => void): void;
};
const cookie = () => ({ originalMaxAge: DAY, expires: new Date(Date.now() + DAY) });
for (const id of ids) await call((done) => connectRedis.set(id, { cookie: cookie(), user: USER, views: 0 }, done));
rows.set("connect-redis 9: GET + SET", async (id) => {
  const sess = (await call<{ views: number }>((done) => connectRedis.get(id, done))) as { views: number };
  sess.views += 1;
  await call((done) => connectRedis.set(id, sess, done));
});

const raw = await nodeRedis();
const text = (views: number) => JSON.stringify({ cookie: cookie(), user: USER, views });
for (const id of ids) await raw.set(`raw:${id}`, text(0), { PX: DAY });
rows.set("raw GET + SET PX (blind write)", async (id) => {
  const body = await raw.get(`raw:${id}`);
  const sess = JSON.parse(body ?? "{}") as { views: number };
  await raw.set(`raw:${id}`, text(sess.views + 1), { PX: DAY });
});
rows.set("raw GETEX PX + SET PX XX GET (no Lua, not safe)", async (id) => {
  const body = await raw.getEx(`raw:${id}`, { type: "PX", value: DAY });
  const sess = JSON.parse(body ?? "{}") as { views: number };
  await raw.sendCommand(["SET", `raw:${id}`, text(sess.views + 1), "PX", String(DAY), "XX", "GET"]);
});

/** redis-server's CPU (every thread), µs. */
const serverMicros = () => {
  const seconds = processCpuSeconds(redis.process.pid);
  if (seconds === null) throw new Error("server-cost reads redis-server's CPU from /proc: Linux only");
  return seconds * 1e6;
};

function serverMicrosPerRequest(row: Row, total: number): Promise<number> {
  return microsPerRequest(row, total, serverMicros);
}

try {
  for (const row of rows.values()) await serverMicrosPerRequest(row, 5000); // warm-up
  const cpu = new Map([...rows.keys()].map((name) => [name, [] as number[]]));
  for (let round = 0; round < 5; round++) for (const [name, row] of rows) cpu.get(name)?.push(await serverMicrosPerRequest(row, requests));
  const incumbent = cpu.get("connect-redis 9: GET + SET") as number[];
  process.stdout.write(`redis-server CPU per written session (µs; ${requests} requests per round, 5 rounds, /proc ticks of 10 ms)\n`);
  for (const [name, values] of cpu) {
    const ratios = values.map((value, i) => value / (incumbent[i] as number));
    process.stdout.write(`  ${name.padEnd(50)} ${median(values).toFixed(1).padStart(5)} µs  ${median(ratios).toFixed(2)}× connect-redis 9 (rounds ${ratios.map((r) => r.toFixed(2)).join(", ")})\n`);
  }
} finally {
  await ours.close();
  await backend.close?.();
  for (const client of clients) await client.quit().catch(() => undefined);
  await redis.stop();
}
