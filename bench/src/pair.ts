// `pnpm --filter @sessionbridge/bench run pair <workload> <windows> <row> <row> [<row>…]` (rows as in the
// matrix, e.g. express/connect-redis-9 express/ours-redis-node-redis express/zero-cost): runs the apps
// under load at the same time — each with its own connections and logged-in users, on the same Redis and
// memcached — and prints each app's CPU per request (/proc, all threads) in every window and its ratio to
// the first row's in the same window. The host's noise then falls on every app at once, so window ratios
// spread less than the bench's sequential rounds (docs/benchmarks.md has figures; an A/A pair still
// spread 0.82–1.14). The absolute figures are not the bench's (the apps share two cores): the ratios are
// what to read, and `npm run bench` stays the published measurement.
import { startApp, type AppProcess } from "./app-process.js";
import { threadCpuSeconds } from "./cpu.js";
import { loginPool, runLoad } from "./http.js";
import { ROWS, type Row, type Workload } from "./matrix.js";
import { startMemcached, startRedis } from "./servers.js";

const [workload, windowsArg, ...rowIds] = process.argv.slice(2);
const windows = Number(windowsArg);
const usage = "usage: pair <read|write> <windows> <framework/store> <framework/store> [...]";
if ((workload !== "read" && workload !== "write") || !Number.isInteger(windows) || windows < 1 || rowIds.length < 2) throw new Error(usage);
const rows = rowIds.map((id) => {
  const row = ROWS.find((candidate) => candidate.id === id);
  if (!row) throw new Error(`no bench row "${id}" (rows: ${ROWS.map((r) => r.id).join(", ")})`);
  if (!row.workloads.includes(workload)) throw new Error(`row "${id}" does not run the ${workload} workload`);
  return row;
});

/** Connections per app: the bench's 50 shared among the apps. */
const CONNECTIONS = Math.max(10, Math.round(50 / rows.length));
const WINDOW_SECONDS = 3;

const redis = await startRedis();
const memcached = await startMemcached();
const apps: Array<{ row: Row; app: AppProcess; cookies: string[]; perRequest: number[] }> = [];
try {
  for (const row of rows) {
    const app = await startApp(row.framework, row.store, { redisUrl: `redis://127.0.0.1:${redis.port}`, memcachedServer: `127.0.0.1:${memcached.port}`, timeoutMs: 1000 });
    apps.push({ row, app, cookies: row.store === "none" ? ["visitor=1"] : await loginPool(app.url, 500), perRequest: [] });
  }
  const load = () => Promise.all(apps.map(({ app, cookies }) => runLoad(app.url, workload as Workload, cookies, WINDOW_SECONDS, CONNECTIONS)));
  await load(); // warm-up: every app compiles its path for this workload
  for (let window = 0; window < windows; window++) {
    const before = apps.map(({ app }) => threadCpuSeconds(app.process.pid));
    const results = await load();
    apps.forEach((entry, i) => {
      const start = before[i];
      const end = threadCpuSeconds(entry.app.process.pid);
      if (!start || !end) throw new Error("pair needs /proc to read each app's CPU time");
      entry.perRequest.push(((end.main + end.helpers - start.main - start.helpers) * 1e6) / (results[i]?.requests ?? 1));
    });
  }
} finally {
  for (const { app } of apps) await app.stop();
  await redis.stop();
  await memcached.stop();
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
const base = apps[0]!.perRequest;
process.stdout.write(`${workload}, ${windows} windows of ${WINDOW_SECONDS} s, ${CONNECTIONS} connections per app; app CPU per request, and ÷ ${apps[0]!.row.id} in the same window\n`);
for (const { row, perRequest } of apps) {
  const ratios = perRequest.map((value, i) => value / (base[i] as number));
  process.stdout.write(`${row.id.padEnd(40)} ${median(perRequest).toFixed(0).padStart(5)} µs   ${median(ratios).toFixed(3)}×  (windows ${ratios.map((r) => r.toFixed(2)).join(" ")})\n`);
}
