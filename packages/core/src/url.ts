import type { Backend } from "./backend.js";
import { configError } from "./errors.js";
import { memcachedBackend } from "./backends/memcached.js";
import { memoryBackend } from "./backends/memory.js";
import { redisBackend } from "./backends/redis.js";

/** Builds a backend from the `url` shortcut. The URL's credentials never appear in errors. */
export function backendFromUrl(url: string): Backend {
  if (typeof url !== "string") throw configError("url", "a string such as redis://host:6379, rediss://…, valkey://…, valkeys://…, memcached://host:11211 or memory://", url);
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  switch (scheme) {
    case "redis":
    case "rediss":
    // Valkey speaks the same protocol; its URLs read exactly as redis:// and rediss://.
    case "valkey":
    case "valkeys":
      return redisBackend({ url });
    case "memcached":
      return memcachedBackend({ url });
    case "memory":
      return memoryBackend();
    default:
      throw configError("url", "a URL starting with redis://, rediss://, valkey://, valkeys://, memcached:// or memory://", url);
  }
}
