import type { RouteOptions } from "fastify";
import { readinessCheck, type HealthSource, type ReadinessOptions } from "@sessionbridge/core/adapter";

/**
 * A readiness route for load balancers and Kubernetes probes: `fastify.route(readinessRoute(store))`
 * (GET `/ready` unless `url` says otherwise). Answers 200 `{"status":"ready","nodes":1,"down":0}` while
 * the store can serve every session (what `store.ping()` means), else 503 `{"status":"unavailable",…}` —
 * also once the store is closed for a shutdown. No host, port or secret unless `details: true`.
 */
export function readinessRoute(store: HealthSource, options: ReadinessOptions & { url?: string } = {}): RouteOptions {
  const { url = "/ready", ...checkOptions } = options;
  if (typeof url !== "string" || !url.startsWith("/")) throw new TypeError('@sessionbridge/fastify: option "url" must be a path such as "/ready"');
  const check = readinessCheck(store, checkOptions);
  return {
    method: "GET",
    url,
    async handler(_request, reply) {
      const { statusCode, body } = await check();
      return reply.code(statusCode).header("cache-control", "no-store").send(body);
    },
  };
}
