import { afterAll, beforeAll } from "vitest";
import { redisBackend } from "@sessionbridge/core";
import { startRedis, type RedisServer } from "@sessionbridge/testing";
import { cacheSuite } from "./suite.js";

let server: RedisServer;
beforeAll(async () => {
  server = await startRedis({ kind: "plain" });
});
afterAll(async () => {
  await server?.dispose();
});

cacheSuite({ name: "redis standalone", backend: () => redisBackend({ url: server.url }) });
