import type { NodeHealth } from "./backend.js";
import { configError } from "./errors.js";
import type { StoreHealth } from "./store.js";

export interface ReadinessOptions {
  /**
   * Put the backend's label and every node (hosts, ports, latencies, why a node is down) into the
   * answer. Meant for an internal port or an authenticated route: a public probe should not map your
   * infrastructure. Default false: the answer names no host, port or secret.
   */
  details?: boolean;
}

/** What a readiness route answers: 200 while the store can serve every session, else 503. */
export interface ReadinessAnswer {
  statusCode: 200 | 503;
  body: {
    status: "ready" | "unavailable";
    /** How many nodes the backend has, and how many of them did not answer. */
    nodes: number;
    down: number;
    /** With `details`: the backend's label and `health()`'s nodes. */
    backend?: string;
    detail?: NodeHealth[];
  };
}

/** What readiness needs of a store (any `SessionStore`). */
export interface HealthSource {
  health(): Promise<StoreHealth>;
}

/**
 * Builds the check a framework's readiness route runs (`@sessionbridge/express`, `/fastify`, `/koa` wrap
 * it): `store.health()`, answered as 200 / 503 with a small JSON body. Options are checked here, once.
 * A store that is closed (shutting down) answers 503, so a load balancer stops sending requests.
 */
export function readinessCheck(store: HealthSource, options: ReadinessOptions = {}): () => Promise<ReadinessAnswer> {
  if (store === null || typeof store !== "object" || typeof (store as Partial<HealthSource>).health !== "function") throw configError("store", "a session store from createSessionStore (it has health())");
  const details = options.details ?? false;
  if (typeof details !== "boolean") throw configError("details", "true or false", details);
  return async () => {
    let health: StoreHealth | undefined;
    try {
      health = await store.health();
    } catch {
      // CLOSED (shutting down) or a failure of the check itself: not ready either way.
    }
    const nodes = health?.nodes ?? [];
    const down = nodes.filter((node) => !node.reachable).length;
    const ready = health?.ok === true;
    const body: ReadinessAnswer["body"] = { status: ready ? "ready" : "unavailable", nodes: nodes.length, down };
    if (details && health !== undefined) {
      body.backend = health.backend;
      body.detail = nodes;
    }
    return { statusCode: ready ? 200 : 503, body };
  };
}
