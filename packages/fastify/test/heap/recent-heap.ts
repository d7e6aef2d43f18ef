/**
 * Child process of recent-loads.test.ts (run with `node --expose-gc --import tsx`): loads `count`
 * distinct sessions of `bytes` each through @fastify/session with the bare store (no plugin), the path
 * that remembers recent loads, and prints the heap growth they left behind as JSON.
 * Usage: recent-heap.ts <redis url> <count> <bytes per session>
 */
import { createHmac } from "node:crypto";
import Fastify from "fastify";
import fastifyCookie from "@fastify/cookie";
import fastifySession from "@fastify/session";
import { createSessionStore } from "@sessionbridge/core";
import { createFastifyStore } from "@sessionbridge/fastify";

const [url, countText, bytesText] = process.argv.slice(2);
const count = Number(countText);
const bytes = Number(bytesText);
const secret = "a test secret that is long enough for every framework";
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with --expose-gc");

const core = createSessionStore({ url: url as string, prefix: "heap:", ttlMs: 600_000 });
const store = createFastifyStore(core);
const app = Fastify();
await app.register(fastifyCookie);
await app.register(fastifySession, { store, secret, cookieName: "sid", saveUninitialized: false, cookie: { secure: false } });
app.get("/", async (request) => ({ size: String(request.session.get("blob" as never) ?? "").length }));
await app.ready();

const filler = "x".repeat(bytes);
const ids = Array.from({ length: count }, (_, i) => `heap-session-${i}`);
for (let i = 0; i < count; i += 100) {
  await Promise.all(ids.slice(i, i + 100).map((id, j) => core.set(id, { blob: `${i + j}:${filler}`, user: `u${i + j}` })));
}
const cookieFor = (id: string) => `sid=${id}.${createHmac("sha256", secret).update(id).digest("base64").replace(/=/g, "")}`;

// One round first, so code and caches warm up outside the measurement.
await app.inject({ url: "/", headers: { cookie: cookieFor(ids[0] as string) } });
gc();
const before = process.memoryUsage().heapUsed;
for (const id of ids) {
  const response = await app.inject({ url: "/", headers: { cookie: cookieFor(id) } });
  if (response.json().size < bytes) throw new Error(`session ${id} was not loaded: ${response.body}`);
}
await new Promise((resolve) => setImmediate(resolve));
gc();
gc();
const after = process.memoryUsage().heapUsed;
const recent = (store as unknown as { recent?: { size?: { entries: number; bytes: number } } }).recent?.size ?? null;
await core.clear();
await app.close();
await core.close();
process.stdout.write(JSON.stringify({ count, bytes, growthBytes: after - before, recent }) + "\n");
