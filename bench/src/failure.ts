import { performance } from "node:perf_hooks";
import { startApp, type AppProcess } from "./app-process.js";
import type { Framework, StoreKind } from "./config.js";
import { cookieHeader, loginPool } from "./http.js";
import { ROWS } from "./matrix.js";
import { startRedis, type BenchServer } from "./servers.js";

/** The configurations put through a Redis outage. */
const FAILURE_ROWS: Array<{ framework: Framework; store: StoreKind }> = [
  { framework: "express", store: "ours-redis" },
  { framework: "express", store: "connect-redis-8" },
  { framework: "express", store: "connect-redis-9" },
  { framework: "fastify", store: "ours-redis" },
  { framework: "fastify", store: "connect-redis-8" },
  { framework: "fastify", store: "connect-redis-9" },
  { framework: "koa", store: "ours-redis" },
  { framework: "koa", store: "koa-redis" },
  { framework: "koa", store: "koa-redis-rolling" },
];

/** A request the client gave up on after this long counts as hung (the bench itself never hangs). */
export const HUNG_AFTER_MS = 5000;
const WORKERS = 16;
/** How long an app may take to work again once Redis is back before we call it not recovered. */
const RECOVERY_LIMIT_MS = 30_000;

export interface FailureResult {
  rowId: string;
  label: string;
  requests: number;
  /** Answered (any status) within the store's timeoutMs + 100 ms. */
  withinLimit: number;
  hung: number;
  maxAnsweredMs: number | null;
  statuses: Record<string, number>;
  /** ms from Redis accepting connections again until a login and a logged-in page both work. */
  recoveryMs: number | null;
  failure?: string;
}

const log = (message: string) => process.stdout.write(`[bench] ${message}\n`);

/**
 * Failure run: a dedicated redis-server, one app per configuration. For each configuration in turn:
 * Redis up, users log in; Redis stopped; steady load for `seconds`; Redis started again on the same
 * port; time until the app works again. Each configuration meets a freshly stopped Redis.
 */
export async function runFailurePhase(seconds: number, timeoutMs: number, only: string[] | undefined): Promise<FailureResult[]> {
  const rows = FAILURE_ROWS.map((r) => ROWS.find((row) => row.framework === r.framework && row.store === r.store)).filter((row) => row !== undefined && (only === undefined || only.some((part) => row.id.includes(part))));
  if (rows.length === 0) return [];
  let redis: BenchServer = await startRedis();
  const port = redis.port;
  const limitMs = timeoutMs + 100;
  const apps = new Map<string, AppProcess>();
  const results: FailureResult[] = [];
  try {
    for (const row of rows) {
      if (!row) continue;
      const result: FailureResult = { rowId: row.id, label: row.label, requests: 0, withinLimit: 0, hung: 0, maxAnsweredMs: null, statuses: {}, recoveryMs: null };
      results.push(result);
      try {
        const app = await startApp(row.framework, row.store, { redisUrl: `redis://127.0.0.1:${port}`, memcachedServer: "127.0.0.1:1", timeoutMs });
        apps.set(row.id, app);
        const pool = await loginPool(app.url, 20);
        await redis.stop();
        Object.assign(result, await loadWhileDown(app.url, pool, seconds, limitMs));
        redis = await startRedis(port);
        const back = performance.now();
        result.recoveryMs = (await untilWorking(app.url)) ? Math.round(performance.now() - back) : null;
        log(`failure ${row.id}: ${result.requests} requests, ${result.withinLimit} answered within ${limitMs} ms, ${result.hung} hung (> ${HUNG_AFTER_MS} ms), max answered ${result.maxAnsweredMs ?? "-"} ms, statuses ${JSON.stringify(result.statuses)}, recovered ${result.recoveryMs === null ? "NOT within 30 s" : `after ${result.recoveryMs} ms`}`);
        await app.stop();
        apps.delete(row.id);
      } catch (error) {
        result.failure = error instanceof Error ? (error.message.split("\n")[0] ?? "") : String(error);
        log(`failure ${row.id}: SKIPPED — ${result.failure}`);
        if (redis.process.child.exitCode !== null || redis.process.child.signalCode !== null) redis = await startRedis(port);
      }
    }
  } finally {
    for (const app of apps.values()) await app.stop();
    await redis.stop();
  }
  return results;
}

async function loadWhileDown(baseUrl: string, pool: string[], seconds: number, limitMs: number): Promise<Omit<FailureResult, "rowId" | "label" | "recoveryMs">> {
  const outcome = { requests: 0, withinLimit: 0, hung: 0, maxAnsweredMs: null as number | null, statuses: {} as Record<string, number> };
  const until = performance.now() + seconds * 1000;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (performance.now() < until) {
      const cookie = pool[next++ % pool.length] as string;
      const start = performance.now();
      let status: string;
      try {
        const response = await fetch(`${baseUrl}/page`, { headers: { cookie }, signal: AbortSignal.timeout(HUNG_AFTER_MS) });
        await response.arrayBuffer();
        status = String(response.status);
      } catch (error) {
        status = (error as Error).name === "TimeoutError" ? "hung" : "connection error";
      }
      const elapsed = performance.now() - start;
      outcome.requests++;
      outcome.statuses[status] = (outcome.statuses[status] ?? 0) + 1;
      if (status === "hung") outcome.hung++;
      else {
        outcome.maxAnsweredMs = Math.max(outcome.maxAnsweredMs ?? 0, Math.round(elapsed));
        if (elapsed <= limitMs) outcome.withinLimit++;
      }
    }
  };
  await Promise.all(Array.from({ length: WORKERS }, worker));
  return outcome;
}

/** True once a new login and the page behind it both work (polled, each try bounded). */
async function untilWorking(baseUrl: string): Promise<boolean> {
  const until = performance.now() + RECOVERY_LIMIT_MS;
  while (performance.now() < until) {
    try {
      const cookie = await loginOnce(baseUrl);
      const response = await fetch(`${baseUrl}/page`, { headers: { cookie }, signal: AbortSignal.timeout(2000) });
      await response.arrayBuffer();
      if (response.status === 200) return true;
    } catch {
      // not yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}

async function loginOnce(baseUrl: string): Promise<string> {
  const response = await fetch(`${baseUrl}/login`, { signal: AbortSignal.timeout(2000) });
  await response.arrayBuffer();
  if (response.status !== 200) throw new Error(`login answered ${response.status}`);
  return cookieHeader(response.headers.getSetCookie());
}
