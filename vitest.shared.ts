import { fileURLToPath } from "node:url";

// Tests import workspace packages from source, so no test waits on (or races with) a build.
const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

// A subpath comes before its package: an alias also matches "<key>/…", and the first match wins.
export const workspaceAliases = {
  "@sessionbridge/core/adapter": here("./packages/core/src/adapter.ts"),
  "@sessionbridge/core/tools": here("./packages/core/src/tools.ts"),
  "@sessionbridge/core": here("./packages/core/src/index.ts"),
  "@sessionbridge/cache": here("./packages/cache/src/index.ts"),
  "@sessionbridge/express": here("./packages/express/src/index.ts"),
  "@sessionbridge/fastify": here("./packages/fastify/src/index.ts"),
  "@sessionbridge/koa": here("./packages/koa/src/index.ts"),
  "@sessionbridge/opentelemetry": here("./packages/opentelemetry/src/index.ts"),
  "@sessionbridge/testing": here("./packages/testing/src/index.ts"),
};

export const sharedTestOptions = {
  testTimeout: 30_000,
  hookTimeout: 60_000,
  // Real servers on 2 cores: keep parallelism modest so timing-sensitive failover tests stay honest.
  maxWorkers: 2,
  setupFiles: [here("./vitest.unhandled-client-errors.ts")],
};
