import type { Socket } from "node:net";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSessionStore, redisBackend, type SessionStore } from "@sessionbridge/core";
import { uniquePrefix } from "../src/contract.js";
import { startRedis, testClient, type RedisServer } from "../src/redis.js";

/**
 * The Redis backend coalesces the commands of one event-loop turn into one socket write (as node-redis
 * does). Observed on the real socket of a real connection: how many times Node hands bytes to the kernel.
 */
describe("redis backend: write batching", () => {
  let server: RedisServer;
  let client: Redis;
  let store: SessionStore;
  let writes = 0;

  beforeAll(async () => {
    server = await startRedis();
    client = testClient({ host: server.host, port: server.port, lazyConnect: true, enableOfflineQueue: false });
    await client.connect();
    const socket = (client as unknown as { stream: Socket & { _write: (...args: unknown[]) => void; _writev: (...args: unknown[]) => void } }).stream;
    for (const method of ["_write", "_writev"] as const) {
      const original = socket[method].bind(socket);
      socket[method] = (...args: unknown[]) => {
        writes++;
        original(...args);
      };
    }
    store = createSessionStore({ backend: redisBackend({ client }), prefix: uniquePrefix("wb") });
  });

  afterAll(async () => {
    await store?.close();
    client?.disconnect();
    await server?.dispose();
  });

  it("sends the 50 reads a turn of the event loop starts in one socket write, and answers each correctly", async () => {
    await Promise.all(Array.from({ length: 50 }, (_, i) => store.set(`user-${i}`, { i })));
    writes = 0;
    const sessions = await Promise.all(Array.from({ length: 50 }, (_, i) => store.get(`user-${i}`)));
    expect(sessions).toEqual(Array.from({ length: 50 }, (_, i) => ({ i })));
    expect(writes).toBe(1);
  });

  it("sends a lone command too (a turn with one command makes one write)", async () => {
    writes = 0;
    await expect(store.get("user-7")).resolves.toEqual({ i: 7 });
    expect(writes).toBe(1);
  });
});
