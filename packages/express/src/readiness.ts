import type session from "express-session";
import { readinessCheck, type HealthSource, type ReadinessOptions } from "@sessionbridge/core/adapter";

type RequestHandler = ReturnType<typeof session>;

/**
 * A readiness route for load balancers and Kubernetes probes: `app.get("/ready", readiness(store))`.
 * Answers 200 `{"status":"ready","nodes":1,"down":0}` while the store can serve every session (what
 * `store.ping()` means), else 503 `{"status":"unavailable",…}` — also once the store is closed for a
 * shutdown. No host, port or secret unless `details: true`. Never cached (`Cache-Control: no-store`).
 */
export function readiness(store: HealthSource, options: ReadinessOptions = {}): RequestHandler {
  const check = readinessCheck(store, options);
  return ((_req, res, next) => {
    check().then(({ statusCode, body }) => {
      res.setHeader("Cache-Control", "no-store");
      res.status(statusCode).json(body);
    }, next);
  }) as RequestHandler;
}
