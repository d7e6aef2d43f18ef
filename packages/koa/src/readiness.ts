import type { Middleware } from "koa";
import { readinessCheck, type HealthSource, type ReadinessOptions } from "@sessionbridge/core/adapter";

/**
 * A readiness middleware for load balancers and Kubernetes probes. Mount it on its path, e.g. with
 * @koa/router `router.get("/ready", readiness(store))` or `app.use(readiness(store, { path: "/ready" }))`.
 * Answers 200 `{"status":"ready","nodes":1,"down":0}` while the store can serve every session (what
 * `store.ping()` means), else 503 `{"status":"unavailable",…}` — also once the store is closed for a
 * shutdown. No host, port or secret unless `details: true`. Never cached.
 */
export function readiness(store: HealthSource, options: ReadinessOptions & { path?: string } = {}): Middleware {
  const { path, ...checkOptions } = options;
  if (path !== undefined && (typeof path !== "string" || !path.startsWith("/"))) throw new TypeError('@sessionbridge/koa: option "path" must be a path such as "/ready"');
  const check = readinessCheck(store, checkOptions);
  return async (ctx, next) => {
    if (path !== undefined && (ctx.path !== path || (ctx.method !== "GET" && ctx.method !== "HEAD"))) return next();
    const { statusCode, body } = await check();
    ctx.set("Cache-Control", "no-store");
    ctx.status = statusCode;
    ctx.body = body;
  };
}
