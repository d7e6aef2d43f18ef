import type { Framework, StoreKind } from "./config.js";

export type Workload = "read" | "write" | "new";

export const WORKLOADS: Record<Workload, { path: string; withCookie: boolean; title: string }> = {
  read: { path: "/page", withCookie: true, title: "read-mostly (logged-in GET, session unchanged)" },
  write: { path: "/write", withCookie: true, title: "write-heavy (each request changes the session)" },
  new: { path: "/welcome", withCookie: false, title: "new visitors (no cookie, session created)" },
};

export type Role = "ours" | "incumbent" | "framework" | "zero-cost" | "baseline";

/** One configuration: a framework with one session store, run in its own app process. */
export interface Row {
  id: string;
  framework: Framework;
  store: StoreKind;
  label: string;
  role: Role;
  /** Which server's command counters describe this row. */
  backend: "redis" | "memcached" | "memory" | "none";
  /** Workloads this row takes part in. */
  workloads: Workload[];
}

const ALL: Workload[] = ["read", "write", "new"];

function row(framework: Framework, store: StoreKind, label: string, role: Role, backend: Row["backend"], workloads = ALL): Row {
  return { id: `${framework}/${store}`, framework, store, label, role, backend, workloads };
}

export const ROWS: Row[] = [
  row("express", "ours-redis", "sessionbridge (Redis)", "ours", "redis"),
  // The same store on the client connect-redis 9 uses: separates what is ours from what is the client's.
  row("express", "ours-redis-node-redis", "sessionbridge (Redis, node-redis client)", "ours", "redis"),
  row("express", "connect-redis-8", "connect-redis 8 (ioredis)", "incumbent", "redis"),
  row("express", "connect-redis-9", "connect-redis 9 (node-redis)", "incumbent", "redis"),
  row("express", "ours-memcached", "sessionbridge (Memcached)", "ours", "memcached"),
  row("express", "connect-memjs", "connect-memjs", "incumbent", "memcached"),
  row("express", "ours-memory", "sessionbridge (memory)", "ours", "memory"),
  row("express", "framework-memory", "express-session MemoryStore", "framework", "memory"),
  row("express", "zero-cost", "zero-cost Map", "zero-cost", "memory"),
  row("express", "none", "no session", "baseline", "none", ["read"]),

  row("fastify", "ours-redis", "sessionbridge (Redis), rolling", "ours", "redis"),
  row("fastify", "ours-redis-node-redis", "sessionbridge (Redis, node-redis client), rolling", "ours", "redis"),
  row("fastify", "connect-redis-8", "connect-redis 8 (ioredis), rolling", "incumbent", "redis"),
  row("fastify", "connect-redis-9", "connect-redis 9 (node-redis), rolling", "incumbent", "redis"),
  row("fastify", "ours-memcached", "sessionbridge (Memcached), rolling", "ours", "memcached"),
  row("fastify", "connect-memjs", "connect-memjs, rolling", "incumbent", "memcached"),
  row("fastify", "ours-memory", "sessionbridge (memory), rolling", "ours", "memory"),
  row("fastify", "framework-memory", "@fastify/session MemoryStore", "framework", "memory"),
  row("fastify", "zero-cost", "zero-cost Map", "zero-cost", "memory"),
  row("fastify", "none", "no session", "baseline", "none", ["read"]),

  row("koa", "ours-redis", "sessionbridge (Redis), rolling", "ours", "redis"),
  // Sliding expiry without koa-session re-signing and re-sending both cookies on every request.
  row("koa", "ours-redis-renew", "sessionbridge (Redis), renew (rolling off)", "ours", "redis", ["read"]),
  row("koa", "ours-redis-node-redis", "sessionbridge (Redis, node-redis client), rolling", "ours", "redis", ["read", "write"]),
  row("koa", "koa-redis", "koa-redis (rolling off, default)", "incumbent", "redis"),
  row("koa", "koa-redis-rolling", "koa-redis, rolling", "incumbent", "redis", ["read", "write"]),
  row("koa", "ours-memcached", "sessionbridge (Memcached), rolling", "ours", "memcached"),
  row("koa", "ours-memory", "sessionbridge (memory), rolling", "ours", "memory"),
  row("koa", "framework-memory", "koa-session cookie (default, rolling)", "framework", "memory"),
  row("koa", "zero-cost", "zero-cost Map, rolling", "zero-cost", "memory"),
  row("koa", "none", "no session", "baseline", "none", ["read"]),
];

/** The incumbents each of our rows is compared with (the first is the headline comparison). */
export function incumbentsOf(subject: Row): Row[] {
  if (subject.role !== "ours") return [];
  const same = ROWS.filter((other) => other.framework === subject.framework && other.role === "incumbent");
  if (subject.backend === "memcached") return same.filter((other) => other.backend === "memcached");
  if (subject.backend === "redis") return same.filter((other) => other.backend === "redis");
  // Our memory backend against the framework's own in-process store.
  return ROWS.filter((other) => other.framework === subject.framework && other.role === "framework");
}

export function zeroCostOf(subject: Row): Row | undefined {
  return ROWS.find((other) => other.framework === subject.framework && other.role === "zero-cost");
}
