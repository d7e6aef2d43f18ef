import type { Backend } from "./backend.js";
import type { Serializer } from "./codec.js";
import { configError } from "./errors.js";

export interface SessionStoreOptions {
  /** The backend: `redisBackend(…)`, `memcachedBackend(…)` or `memoryBackend(…)`. Give this or `url`. */
  backend?: Backend;
  /** Shortcut for a backend: `redis://`, `rediss://`, `memcached://` or `memory://`. Give this or `backend`. */
  url?: string;
  /** Prepended to every backend key. Default `"sess:"`. */
  prefix?: string;
  /** Idle timeout of a session in milliseconds (the sliding TTL). Default 86 400 000 (one day). */
  ttlMs?: number;
  /**
   * Deadline of each operation in milliseconds, covering connect, queueing and reply. An operation that
   * has not finished by then rejects with TIMEOUT or UNAVAILABLE. Default 1000.
   */
  timeoutMs?: number;
  /** How the record is turned into text. Default: JSON, parsed safely against prototype pollution. */
  serializer?: Serializer;
  /** Largest encoded session in bytes; a larger one is refused with TOO_LARGE and nothing is written. Default 1 000 000. */
  maxBytes?: number;
  /**
   * Lazy touch: a read refreshes the TTL only when the session's remaining life has dropped by more than
   * this many milliseconds, by rewriting the record (compare-and-set). 0 (default) refreshes the TTL on
   * every read in the same round trip (Redis GETEX). Use it to bound TTL writes on read-heavy sites and
   * with replica reads, where a refresh has to go to the primary.
   */
  touchAfterMs?: number;
  /**
   * Absolute lifetime in milliseconds since the session was created, whatever its activity (OWASP's
   * absolute timeout). Undefined (default): no absolute limit.
   */
  maxLifetimeMs?: number;
}

export interface ResolvedOptions {
  prefix: string;
  ttlMs: number;
  timeoutMs: number;
  maxBytes: number;
  touchAfterMs: number;
  maxLifetimeMs: number | undefined;
}

const KNOWN = new Set([
  "backend",
  "url",
  "prefix",
  "ttlMs",
  "timeoutMs",
  "serializer",
  "maxBytes",
  "touchAfterMs",
  "maxLifetimeMs",
]);

/** Largest TTL we accept: 400 days, the most a browser keeps a cookie. */
export const MAX_TTL_MS = 400 * 24 * 3600 * 1000;

export function positiveInteger(option: string, value: unknown, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value <= 0 || value > max) {
    throw configError(option, `a whole number of milliseconds between 1 and ${max}`, value);
  }
  return value;
}

export function resolveOptions(options: SessionStoreOptions, extraKnown: readonly string[] = []): ResolvedOptions {
  if (options === null || typeof options !== "object") throw configError("options", "an object", options);
  for (const name of Object.keys(options)) {
    if (!KNOWN.has(name) && !extraKnown.includes(name)) {
      const hint = name === "ttl" ? ' — durations are milliseconds here: use "ttlMs"' : name === "timeout" ? ' — use "timeoutMs"' : "";
      throw configError(name, `one of the known options (${[...KNOWN, ...extraKnown].join(", ")})${hint}`);
    }
  }
  const prefix = options.prefix ?? "sess:";
  if (typeof prefix !== "string" || prefix.length > 128 || /[\s\u0000-\u001f\u007f]/.test(prefix)) {
    throw configError("prefix", "a string of at most 128 characters without whitespace or control characters", prefix);
  }
  const ttlMs = options.ttlMs === undefined ? 86_400_000 : positiveInteger("ttlMs", options.ttlMs, MAX_TTL_MS);
  const timeoutMs = options.timeoutMs === undefined ? 1000 : positiveInteger("timeoutMs", options.timeoutMs, 600_000);
  const maxBytes = options.maxBytes === undefined ? 1_000_000 : positiveInteger("maxBytes", options.maxBytes, 512 * 1024 * 1024);
  let touchAfterMs = 0;
  if (options.touchAfterMs !== undefined && options.touchAfterMs !== 0) {
    touchAfterMs = positiveInteger("touchAfterMs", options.touchAfterMs, MAX_TTL_MS);
    if (touchAfterMs >= ttlMs) throw configError("touchAfterMs", `smaller than ttlMs (${ttlMs})`, touchAfterMs);
  }
  const maxLifetimeMs = options.maxLifetimeMs === undefined ? undefined : positiveInteger("maxLifetimeMs", options.maxLifetimeMs, 10 * MAX_TTL_MS);
  if (options.serializer !== undefined) {
    const s = options.serializer as Partial<Serializer> | null;
    if (s === null || typeof s !== "object" || typeof s.stringify !== "function" || typeof s.parse !== "function") {
      throw configError("serializer", "an object with stringify(value) and parse(text) functions", options.serializer);
    }
  }
  if (options.backend !== undefined && options.url !== undefined) {
    throw configError("backend", 'given alone: pass either "backend" or "url", not both');
  }
  if (options.backend === undefined && options.url === undefined) {
    throw configError("backend", 'a backend (redisBackend(…), memcachedBackend(…), memoryBackend(…)) — or pass "url"');
  }
  return { prefix, ttlMs, timeoutMs, maxBytes, touchAfterMs, maxLifetimeMs };
}
