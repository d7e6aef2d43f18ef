/** What an app process is told to run (passed as JSON in the BENCH_APP environment variable). */
export type Framework = "express" | "fastify" | "koa";

/**
 * Which session store an app uses.
 * - `ours-*`: @sessionbridge/core through the framework's adapter;
 * - `connect-redis-8` (ioredis), `connect-redis-9` (node-redis), `connect-memjs`, `koa-redis`,
 *   `koa-redis-rolling`: the incumbents;
 * - `framework-memory`: the framework's own default (express-session's and @fastify/session's MemoryStore,
 *   koa-session's cookie);
 * - `zero-cost`: an in-process Map of ready objects answered a turn later (as a network store's replies
 *   arrive), the limit for any store;
 * - `none`: no session middleware at all (the baseline).
 */
export type StoreKind =
  | "ours-redis"
  /** Our store through a caller's node-redis client (createClient) instead of the ioredis connection it opens. */
  | "ours-redis-node-redis"
  /** Koa only: koa-session with `renew: true` and rolling off (the cookie is re-sent in the second half of its life). */
  | "ours-redis-renew"
  | "ours-memcached"
  | "ours-memory"
  | "connect-redis-8"
  | "connect-redis-9"
  | "connect-memjs"
  | "koa-redis"
  | "koa-redis-rolling"
  | "framework-memory"
  | "zero-cost"
  | "none";

export interface AppConfig {
  framework: Framework;
  store: StoreKind;
  port: number;
  redisUrl: string;
  /** host:port of the memcached server. */
  memcachedServer: string;
  /** The core store's operation deadline (ms); the failure run relies on it. */
  timeoutMs: number;
}

export function readAppConfig(env: NodeJS.ProcessEnv): AppConfig {
  const raw = env.BENCH_APP;
  if (!raw) throw new Error("BENCH_APP is not set: app processes are started by bench/src/run.ts");
  return JSON.parse(raw) as AppConfig;
}
