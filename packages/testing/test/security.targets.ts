import { randomBytes } from "node:crypto";
import { afterAll, afterEach, beforeAll } from "vitest";
import { createSessionStore, memcachedBackend, memoryBackend, redisBackend, type Backend, type SessionStore, type SessionStoreOptions } from "@sessionbridge/core";
import { startMemcached, type MemcachedServer } from "../src/memcached.js";
import { startRedis, type RedisServer } from "../src/redis.js";

/**
 * The backends the security tests run on: memory, a real redis-server and a real memcached, started on
 * free loopback ports for the file and stopped afterwards. Each test opens stores with a unique prefix.
 */
export interface SecurityTarget {
  name: "memory" | "redis" | "memcached";
  /** A fresh backend on the target (the store that gets it closes it). */
  backend(): Backend;
  /** TTL granularity of the server in ms (memcached counts whole seconds). */
  ttlResolutionMs: number;
}

export function useSecurityTargets(options: { memcached?: boolean } = {}): { targets: SecurityTarget[]; redis: () => RedisServer; open: (target: SecurityTarget, extra?: Omit<SessionStoreOptions, "backend" | "url">) => SessionStore & { prefix: string } } {
  let redis: RedisServer | undefined;
  let memcached: MemcachedServer | undefined;
  const opened: SessionStore[] = [];
  const sharedMemory = memoryBackend();
  beforeAll(async () => {
    [redis, memcached] = await Promise.all([startRedis(), options.memcached === false ? undefined : startMemcached()]);
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((store) => store.close()));
  });
  afterAll(async () => {
    await Promise.all([redis?.dispose(), memcached?.dispose(), sharedMemory.close()]);
  });
  const targets: SecurityTarget[] = [
    // One memory backend for the file, so that several stores share it like instances share Redis.
    { name: "memory", backend: () => ({ ...sharedMemory, close: async () => undefined }), ttlResolutionMs: 1 },
    { name: "redis", backend: () => redisBackend({ url: redis!.url }), ttlResolutionMs: 1 },
  ];
  if (options.memcached !== false) targets.push({ name: "memcached", backend: () => memcachedBackend({ url: memcached!.url }), ttlResolutionMs: 1000 });
  return {
    targets,
    redis: () => redis!,
    open(target, extra = {}) {
      const prefix = extra.prefix ?? `sess:sec-${randomBytes(5).toString("hex")}:`;
      const store = createSessionStore({ timeoutMs: 2000, ...extra, prefix, backend: target.backend() });
      opened.push(store);
      return Object.assign(store, { prefix });
    },
  };
}

/** Every key a store's backend holds under its prefix (memory and Redis can scan). */
export async function keysUnder(store: SessionStore & { prefix: string }): Promise<string[]> {
  const keys: string[] = [];
  for await (const batch of store.backend.scan(store.prefix)) keys.push(...batch);
  return keys.sort();
}

export const secret = (): string => randomBytes(32).toString("base64");
export const aesKey = (): Buffer => randomBytes(32);
