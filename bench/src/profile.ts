// `pnpm --filter @sessionbridge/bench run profile <framework> <store> [workload] [seconds] [--alloc] [--top=N]`:
// runs one app under load with --cpu-prof and prints where its CPU time goes (self and inclusive, by
// function), and the app's CPU per request split into its main thread and the others (V8's garbage
// collection helpers, which the profile does not see). This is how the hot path is investigated; the
// .cpuprofile is kept for Chrome DevTools.
// `--alloc`: instead, the bytes the app allocates per request, garbage included, and the N functions that
// allocate the most (./alloc.ts, sampled inside the app after the warm-up): what its garbage collection
// has to collect.
import { mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { allocationsOf, formatTop, topCountOption, type SamplingNode } from "./alloc.js";
import { startApp } from "./app-process.js";
import { threadCpuSeconds } from "./cpu.js";
import type { Framework, StoreKind } from "./config.js";
import { loginPool, runLoad } from "./http.js";
import type { Workload } from "./matrix.js";
import { startMemcached, startRedis } from "./servers.js";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

const args = process.argv.slice(2);
const [framework = "express", store = "ours-redis", workload = "read", seconds = "8"] = args.filter((arg) => !arg.startsWith("--"));
const allocations = args.includes("--alloc");
const topCount = topCountOption(args, 30);
const dir = mkdtempSync(join(tmpdir(), "sessionbridge-profile-"));
const allocFile = join(dir, "allocations.json");
if (allocations) process.env.BENCH_ALLOC_FILE = allocFile; // startApp hands its environment to the app
const redis = await startRedis();
const memcached = await startMemcached();
let requests = 0;
try {
  const app = await startApp(framework as Framework, store as StoreKind, { redisUrl: `redis://127.0.0.1:${redis.port}`, memcachedServer: `127.0.0.1:${memcached.port}`, timeoutMs: 1000 }, allocations ? [] : ["--cpu-prof", `--cpu-prof-dir=${dir}`]);
  const cookies = store === "none" ? ["visitor=1"] : await loginPool(app.url, 200);
  await runLoad(app.url, workload as Workload, cookies, 2, 50);
  if (allocations) {
    app.process.child.kill("SIGUSR2"); // the app starts sampling (apps/main.ts)
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const before = threadCpuSeconds(app.process.pid);
  const result = await runLoad(app.url, workload as Workload, cookies, Number(seconds), 50);
  const after = threadCpuSeconds(app.process.pid);
  requests = result.requests;
  process.stdout.write(`${framework}/${store} ${workload}: ${Math.round(result.rps)} req/s under the ${allocations ? "allocation sampler" : "profiler"}\n`);
  if (before !== null && after !== null) {
    // The profile below covers the main thread only; V8's helper threads (parallel scavenging, concurrent
    // marking) are CPU the app spends too, and surviving garbage keeps them busy.
    const perRequest = (from: number, to: number) => (((to - from) * 1e6) / requests).toFixed(1);
    process.stdout.write(`CPU per request: main thread ${perRequest(before.main, after.main)} µs, other threads ${perRequest(before.helpers, after.helpers)} µs (/proc, the ${allocations ? "allocation sampler" : "profiler"} included)\n`);
  }
  await app.stop(); // SIGTERM → process.exit → the profile is written
} finally {
  await redis.stop();
  await memcached.stop();
}

if (allocations) {
  // Requests sent between the signal and the load (none) and the app's idle work are counted in: a bias of
  // well under 1 % at thousands of requests per second.
  const found = allocationsOf(JSON.parse(readFileSync(allocFile, "utf8")) as SamplingNode, requests, topCount);
  process.stdout.write(`${found.bytesPerRequest.toFixed(0)} bytes allocated per request, garbage included\n`);
  process.stdout.write(formatTop(found, " "));
  process.exit(0);
}

// tsx's loader thread writes its own small profile: the app's main thread is the largest one.
const file = readdirSync(dir)
  .filter((name) => name.endsWith(".cpuprofile"))
  .sort((a, b) => statSync(join(dir, b)).size - statSync(join(dir, a)).size)[0];
if (!file) throw new Error(`no profile written in ${dir}`);
const profile = JSON.parse(readFileSync(join(dir, file), "utf8")) as { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const parent = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
const name = (node: ProfileNode) => `${node.callFrame.functionName || "(anonymous)"} ${node.callFrame.url.replace(/^.*node_modules\//, "").replace(/^file:\/\/.*\/(packages|bench)\//, "$1/")}:${node.callFrame.lineNumber + 1}`;
const self = new Map<string, number>();
const inclusive = new Map<string, number>();
let total = 0;
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i] ?? 0;
  total += dt;
  const node = byId.get(id) as ProfileNode;
  self.set(name(node), (self.get(name(node)) ?? 0) + dt);
  const seen = new Set<string>();
  for (let current: number | undefined = id; current !== undefined; current = parent.get(current)) {
    const key = name(byId.get(current) as ProfileNode);
    if (!seen.has(key)) inclusive.set(key, (inclusive.get(key) ?? 0) + dt);
    seen.add(key);
  }
});
const top = (map: Map<string, number>, count: number) =>
  [...map].sort((a, b) => b[1] - a[1]).slice(0, count).map(([key, time]) => `${((100 * time) / total).toFixed(1).padStart(5)} %  ${key}`).join("\n");
process.stdout.write(`\nself time\n${top(self, 30)}\n\ninclusive time\n${top(inclusive, 60)}\n\nprofile: ${join(dir, file)}\n`);
