// `pnpm --filter @sessionbridge/bench run core-cost [requests]`: what the core costs a request in CPU, with
// no network and no framework — the memory backend, a request's budget, 50 requests in flight — next to
// express-session's MemoryStore doing the same (get, then set for a changed session). Alternated rounds,
// CPU µs per request from process.cpuUsage (the figure issue 12 compares; wall time moves with the host).
import session from "express-session";
import { createSessionStore } from "@sessionbridge/core";
import { detachData, SessionTracker } from "@sessionbridge/core/adapter";
import { USER } from "./payload.js";
import { median } from "./stats.js";

type Mode = "read" | "rolling" | "write";
const requests = Number(process.argv[2] ?? 40_000);
const ids = Array.from({ length: 500 }, (_, i) => `sess-${i}-abcdefghijklmnopqrstuvwx`);
const DAY = 86_400_000;

const store = createSessionStore({ url: "memory://", ttlMs: DAY });
const tracker = new SessionTracker(store);
for (const id of ids) await store.set(id, { user: USER, views: 0 });
const memoryStore = new session.MemoryStore();
for (const id of ids) memoryStore.set(id, { cookie: { originalMaxAge: DAY, expires: new Date(Date.now() + DAY) }, user: USER, views: 0 } as unknown as session.SessionData);

// The application's own work between the read and the save: the budget has spent time, as in a real request.
const appWork = () => new Promise<void>((resolve) => setImmediate(resolve));

let next = 0;
async function ours(mode: Mode): Promise<void> {
  const id = ids[next++ % ids.length] as string;
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
}

async function theirs(mode: Mode): Promise<void> {
  const id = ids[next++ % ids.length] as string;
  const sess = await new Promise<session.SessionData & { views: number }>((resolve) => memoryStore.get(id, (_error, found) => resolve(found as session.SessionData & { views: number })));
  if (mode === "read") return;
  if (mode === "write") sess.views += 1;
  await appWork();
  // express-session touches an unchanged session (MemoryStore: a get + set) and sets a changed one.
  await new Promise<void>((resolve) => (mode === "write" ? memoryStore.set(id, sess, () => resolve()) : memoryStore.touch(id, sess, () => resolve())));
}

async function cpuPerRequest(request: (mode: Mode) => Promise<void>, mode: Mode, total: number): Promise<number> {
  let left = total;
  const worker = async () => {
    while (left-- > 0) await request(mode);
  };
  const before = process.cpuUsage();
  await Promise.all(Array.from({ length: 50 }, worker));
  const used = process.cpuUsage(before);
  return (used.user + used.system) / total;
}

for (const mode of ["read", "rolling", "write"] as const) {
  await cpuPerRequest(ours, mode, 5000); // warm-up
  await cpuPerRequest(theirs, mode, 5000);
  const a: number[] = [];
  const b: number[] = [];
  for (let round = 0; round < 3; round++) {
    a.push(await cpuPerRequest(ours, mode, requests));
    b.push(await cpuPerRequest(theirs, mode, requests));
  }
  const ratios = a.map((x, i) => x / (b[i] as number));
  process.stdout.write(`${mode.padEnd(7)} core ${median(a).toFixed(1)} µs/request · express-session MemoryStore ${median(b).toFixed(1)} µs/request · ratio ${median(ratios).toFixed(2)}× (rounds ${ratios.map((r) => r.toFixed(2)).join(", ")})\n`);
}
await store.close();
