import { Redis } from "ioredis";
import { startApp, type AppProcess, type AppTargets } from "./app-process.js";
import type { Framework } from "./config.js";
import { memcachedCpuSeconds, processCpuSeconds, redisCpuSeconds } from "./cpu.js";
import { diffCounts, memcachedCommandCounts, memcachedText, redisCommandCounts, watchRedisCommands, type CommandCounts } from "./counters.js";
import { assertLoggedIn, loginPool, runLoad, sendRequests, type LoadResult } from "./http.js";
import { ROWS, type Row, type Workload } from "./matrix.js";

export interface HttpSettings {
  rounds: number;
  /** Seconds of each timed read-mostly run. */
  readSeconds: number;
  /** Seconds of each timed write-heavy and new-visitor run. */
  otherSeconds: number;
  connections: number;
  /** Logged-in users per app (their cookies rotate through the load). */
  users: number;
  /** Requests sent to count backend commands (exact, outside the timed runs). */
  countRequests: number;
  only: string[] | undefined;
  workloads: Workload[];
}

/** A timed run plus the CPU time per request it cost the app and the backend server (µs). */
export interface HttpRound extends LoadResult {
  appCpuUs: number | null;
  backendCpuUs: number | null;
}

export interface HttpCell {
  rowId: string;
  workload: Workload;
  rounds: HttpRound[];
  /** Backend commands sent per request (round trips) by command name, from the server's own view. */
  commandsPerRequest: CommandCounts | null;
  /** Redis only: commands the server executed per request, those run inside Lua scripts included. */
  serverCommandsPerRequest?: CommandCounts;
  failure?: string;
}

export interface Servers {
  redisUrl: string;
  redisPort: number;
  memcachedPort: number;
}

const log = (message: string) => process.stdout.write(`[bench] ${message}\n`);
/** Unrecorded load per row before each workload's rounds (see runFramework). */
const WARM_UP_SECONDS = 2;

export async function runHttpPhase(settings: HttpSettings, servers: Servers, targets: AppTargets): Promise<HttpCell[]> {
  const admin = new Redis(servers.redisUrl, { lazyConnect: false });
  const cells: HttpCell[] = [];
  try {
    for (const framework of ["express", "fastify", "koa"] satisfies Framework[]) {
      const rows = ROWS.filter((row) => row.framework === framework && selected(row, settings.only));
      if (rows.length === 0) continue;
      cells.push(...(await runFramework(framework, rows, settings, servers, targets, admin)));
    }
  } finally {
    admin.disconnect();
  }
  return cells;
}

function selected(row: Row, only: string[] | undefined): boolean {
  return only === undefined || only.some((part) => row.id.includes(part));
}

async function runFramework(framework: Framework, rows: Row[], settings: HttpSettings, servers: Servers, targets: AppTargets, admin: Redis): Promise<HttpCell[]> {
  const apps = new Map<string, AppProcess>();
  const cookies = new Map<string, string[]>();
  const cells = new Map<string, HttpCell>();
  const cell = (row: Row, workload: Workload): HttpCell => {
    const id = `${row.id}|${workload}`;
    let found = cells.get(id);
    if (!found) cells.set(id, (found = { rowId: row.id, workload, rounds: [], commandsPerRequest: null }));
    return found;
  };
  const live: Row[] = [];
  try {
    // Every app of this framework runs at once (idle ones cost nothing), so rounds can alternate A/B/A/B.
    for (const row of rows) {
      try {
        const app = await startApp(row.framework, row.store, targets);
        apps.set(row.id, app);
        // The baseline has no sessions: its requests carry a plain cookie so the header work stays the same.
        const pool = row.store === "none" ? ["visitor=1"] : await loginPool(app.url, settings.users);
        if (row.store !== "none") await assertLoggedIn(app.url, pool[0] as string);
        cookies.set(row.id, pool);
        live.push(row);
        log(`${row.id}: started, ${pool.length} users logged in`);
      } catch (error) {
        const message = error instanceof Error ? error.message.split("\n")[0] ?? "" : String(error);
        log(`${row.id}: SKIPPED — ${message}`);
        for (const workload of row.workloads) cell(row, workload).failure = message;
      }
    }
    // Exact command counts first, on a quiet server: counters before and after a fixed number of requests.
    for (const row of live) {
      for (const workload of row.workloads.filter((w) => settings.workloads.includes(w))) {
        Object.assign(cell(row, workload), await countCommands(row, workload, apps.get(row.id) as AppProcess, cookies.get(row.id) as string[], settings, servers, admin));
      }
    }
    for (const workload of settings.workloads) {
      const seconds = workload === "read" ? settings.readSeconds : settings.otherSeconds;
      // Warm-up of this workload's code (JIT, connection pools), not recorded. Before each workload, not
      // once: a row's first round of writes otherwise compiles its save path inside the measured window,
      // which costs the row with more code on that path the most (round 1 of Koa writes measured 187 µs
      // against 152–165 after, zero-cost 138 against 90–99).
      for (const row of live.filter((r) => r.workloads.includes(workload))) {
        await runLoad((apps.get(row.id) as AppProcess).url, workload, cookies.get(row.id) as string[], WARM_UP_SECONDS, settings.connections);
        if (workload === "new") await flushServers(admin, servers.memcachedPort);
      }
      for (let round = 1; round <= settings.rounds; round++) {
        // Alternated and rotated: round r starts one row later, so no row always runs first (or right
        // after the same neighbour) while background load comes and goes.
        const order = live.filter((r) => r.workloads.includes(workload));
        const rotated = [...order.slice((round - 1) % order.length), ...order.slice(0, (round - 1) % order.length)];
        for (const row of rotated) {
          const app = apps.get(row.id) as AppProcess;
          const cpu = await cpuMeter(row, app, servers, admin);
          const load = await runLoad(app.url, workload, cookies.get(row.id) as string[], seconds, settings.connections);
          const result: HttpRound = { ...load, ...(await cpu(load.requests)) };
          cell(row, workload).rounds.push(result);
          log(`${row.id} ${workload} round ${round}: ${Math.round(result.rps)} req/s, p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms, CPU/request app ${result.appCpuUs ?? "?"} µs backend ${result.backendCpuUs ?? "-"} µs${result.non2xx ? `, ${result.non2xx} non-2xx` : ""}${result.errors ? `, ${result.errors} errors` : ""}`);
          // New visitors leave one session per request behind: start each run from an empty server.
          if (workload === "new") await flushServers(admin, servers.memcachedPort);
        }
      }
    }
  } finally {
    for (const app of apps.values()) await app.stop();
    await flushServers(admin, servers.memcachedPort);
  }
  return [...cells.values()];
}

/** Starts CPU accounting for one run; the returned function ends it, per request. */
async function cpuMeter(row: Row, app: AppProcess, servers: Servers, admin: Redis): Promise<(requests: number) => Promise<{ appCpuUs: number | null; backendCpuUs: number | null }>> {
  const backendCpu = row.backend === "redis" ? () => redisCpuSeconds(admin) : row.backend === "memcached" ? () => memcachedCpuSeconds(servers.memcachedPort) : null;
  const appBefore = processCpuSeconds(app.process.pid);
  const backendBefore = backendCpu ? await backendCpu() : null;
  return async (requests) => {
    const appAfter = processCpuSeconds(app.process.pid);
    const backendAfter = backendCpu ? await backendCpu() : null;
    const perRequest = (before: number | null, after: number | null) => (before === null || after === null || requests === 0 ? null : Math.round(((after - before) / requests) * 1e6));
    return { appCpuUs: perRequest(appBefore, appAfter), backendCpuUs: perRequest(backendBefore, backendAfter) };
  };
}

async function countCommands(row: Row, workload: Workload, app: AppProcess, pool: string[], settings: HttpSettings, servers: Servers, admin: Redis): Promise<Pick<HttpCell, "commandsPerRequest" | "serverCommandsPerRequest">> {
  if (row.backend !== "redis" && row.backend !== "memcached") return { commandsPerRequest: null };
  const perRequest = (counts: CommandCounts): CommandCounts => Object.fromEntries(Object.entries(counts).map(([name, calls]) => [name, calls / settings.countRequests]));
  const report = (failed: number) => failed > 0 && log(`${row.id} ${workload}: ${failed} of ${settings.countRequests} counting requests were not 2xx`);
  if (row.backend === "memcached") {
    const before = await memcachedCommandCounts(servers.memcachedPort);
    report(await sendRequests(app.url, workload, pool, settings.countRequests));
    return { commandsPerRequest: perRequest(diffCounts(before, await memcachedCommandCounts(servers.memcachedPort))) };
  }
  const before = await redisCommandCounts(admin);
  const watch = await watchRedisCommands(admin);
  report(await sendRequests(app.url, workload, pool, settings.countRequests));
  const sent = await watch.stop();
  const executed = diffCounts(before, await redisCommandCounts(admin));
  delete executed.echo; // the watcher's end marker
  if (!sent.hello) delete executed.hello; // the watcher's own connection handshake
  return { commandsPerRequest: perRequest(sent), serverCommandsPerRequest: perRequest(executed) };
}

async function flushServers(admin: Redis, memcachedPort: number): Promise<void> {
  // The bench's own private servers: flushing them is safe (the library itself never flushes).
  await admin.flushall();
  await memcachedText(memcachedPort, "flush_all", "OK\r\n");
}
