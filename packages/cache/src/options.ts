import type { Backend, EncryptionKey, Serializer } from "@sessionbridge/core";
import { configError } from "@sessionbridge/core/adapter";
import type { FirstTierOptions } from "./first-tier.js";

/** How long an entry is served, per call or as the cache's default. */
export interface FreshnessOptions {
  /** How long a loaded or written value is fresh, in milliseconds. Default: the cache's `ttlMs`. */
  ttlMs?: number;
  /**
   * Stale-while-revalidate: for this many milliseconds after `ttlMs`, a read returns the stale value at
   * once and one caller refreshes it in the background. Default: the cache's `staleMs` (0: off).
   */
  staleMs?: number;
  /**
   * Grace: for this many milliseconds after `ttlMs`, the stale value is returned when the loader fails
   * or times out (the database is down) instead of the loader's error. Default: the cache's `graceMs` (0: off).
   */
  graceMs?: number;
  /** Tags of the entry, for `invalidateTag` (e.g. `["products"]`). Default none. */
  tags?: readonly string[];
}

export interface LoadOptions extends FreshnessOptions {
  /**
   * How long "not found" (the loader resolved `undefined`) is cached, in milliseconds. Default: the
   * cache's `negativeTtlMs` (0: not-found is not cached, every read asks the loader again).
   */
  negativeTtlMs?: number;
  /** The loader's deadline in milliseconds. Default: the cache's `loaderTimeoutMs`. */
  loaderTimeoutMs?: number;
}

export interface CacheOptions<V = unknown> {
  /** The backend: `redisBackend(…)`, `memcachedBackend(…)` or `memoryBackend(…)` from @sessionbridge/core. Give this or `url`. */
  backend?: Backend;
  /** Shortcut for a backend: `redis://`, `rediss://`, `memcached://` or `memory://`. Give this or `backend`. */
  url?: string;
  /** Prepended to every backend key. Default `"cache:"`. Use one prefix per kind of value. */
  prefix?: string;
  /** How long a value is fresh, in milliseconds. Default 60 000. */
  ttlMs?: number;
  /**
   * Jitter: each write's TTL is shortened by a random part of up to this fraction of it (0 to 0.5), so
   * entries written together do not expire together. Default 0.1.
   */
  jitter?: number;
  /** Default stale-while-revalidate window in milliseconds (see {@link FreshnessOptions.staleMs}). Default 0. */
  staleMs?: number;
  /** Default grace window in milliseconds (see {@link FreshnessOptions.graceMs}). Default 0. */
  graceMs?: number;
  /** Default TTL of "not found" in milliseconds (see {@link LoadOptions.negativeTtlMs}). Default 0 (not cached). */
  negativeTtlMs?: number;
  /** Deadline of a loader call in milliseconds; past it the call fails (or serves a graced value). Default 5000. */
  loaderTimeoutMs?: number;
  /**
   * Deadline of each backend operation in milliseconds. A backend that is down or hung costs a read at
   * most this long: then the loader is called directly (fail open) and the backend is skipped until it
   * answers again. Default 1000.
   */
  timeoutMs?: number;
  /**
   * How long the cross-instance load lock lives in milliseconds: while one instance loads a key, the
   * others wait for its value up to this long, then load themselves. Default: `loaderTimeoutMs`.
   */
  lockTtlMs?: number;
  /** How often a caller waiting for another instance's load looks for the value, in milliseconds. Default 25. */
  lockPollMs?: number;
  /** While the backend is unreachable, how often it is probed, in milliseconds. Default 1000. */
  probeIntervalMs?: number;
  /**
   * The version of a value for write-through ordering (e.g. `(row) => row.updatedAtMs` or a row version):
   * a write never replaces an entry of a higher version. Used by `set` when no `version` is given, and
   * for values the loader returns. Default: `set` uses the time of the call, loaded values version 0.
   */
  versionOf?: (value: V) => number;
  /** How values are turned into text. Default: JSON, parsed safely against prototype pollution. */
  serializer?: Serializer;
  /** Largest encoded entry in bytes; a larger value is served but not cached. Default 1 000 000. */
  maxBytes?: number;
  /** Encryption at rest with AES-256-GCM, as in the session store: `[{ id, key }]`, newest first. Default none. */
  encryptionKeys?: ReadonlyArray<EncryptionKey>;
  /**
   * An in-process first tier (`true` or `{ maxEntries, ttlMs }`): hits served from this process without a
   * round trip, kept coherent across instances by the backend's pub/sub; on Memcached (no pub/sub) only
   * by its short `ttlMs`. Default off.
   */
  firstTier?: boolean | FirstTierOptions;
}

export interface ResolvedCacheOptions {
  prefix: string;
  ttlMs: number;
  jitter: number;
  staleMs: number;
  graceMs: number;
  negativeTtlMs: number;
  loaderTimeoutMs: number;
  timeoutMs: number;
  lockTtlMs: number;
  lockPollMs: number;
  probeIntervalMs: number;
  maxBytes: number;
  /** The first tier's settings; undefined when off. `ttlMs` undefined: the backend decides the default. */
  firstTier: { maxEntries: number; ttlMs: number | undefined } | undefined;
}

const KNOWN = [
  "backend",
  "url",
  "prefix",
  "ttlMs",
  "jitter",
  "staleMs",
  "graceMs",
  "negativeTtlMs",
  "loaderTimeoutMs",
  "timeoutMs",
  "lockTtlMs",
  "lockPollMs",
  "probeIntervalMs",
  "versionOf",
  "serializer",
  "maxBytes",
  "encryptionKeys",
  "firstTier",
];

/** Longest duration we accept: 30 days (Memcached reads longer relative TTLs as dates). */
export const MAX_DURATION_MS = 30 * 24 * 3600 * 1000;

export function duration(option: string, value: unknown, fallback: number, { zero = false } = {}): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < (zero ? 0 : 1) || value > MAX_DURATION_MS) {
    throw configError(option, `a whole number of milliseconds between ${zero ? 0 : 1} and ${MAX_DURATION_MS}`, value);
  }
  return value;
}

export function resolveCacheOptions(options: CacheOptions<never>): ResolvedCacheOptions {
  if (options === null || typeof options !== "object") throw configError("options", "an object", options);
  for (const name of Object.keys(options)) {
    if (!KNOWN.includes(name)) {
      const hint = name === "ttl" ? ' — durations are milliseconds here: use "ttlMs"' : name === "timeout" ? ' — use "timeoutMs"' : "";
      throw configError(name, `one of the known options (${KNOWN.join(", ")})${hint}`);
    }
  }
  if (options.backend !== undefined && options.url !== undefined) throw configError("backend", 'given alone: pass either "backend" or "url", not both');
  if (options.backend === undefined && options.url === undefined) {
    throw configError("backend", 'a backend (redisBackend(…), memcachedBackend(…), memoryBackend(…) from @sessionbridge/core) — or pass "url"');
  }
  const prefix = options.prefix ?? "cache:";
  if (typeof prefix !== "string" || prefix.length > 128 || /[\s\u0000-\u001f\u007f]/.test(prefix)) {
    throw configError("prefix", "a string of at most 128 characters without whitespace or control characters", prefix);
  }
  const jitter = options.jitter ?? 0.1;
  if (typeof jitter !== "number" || !(jitter >= 0 && jitter <= 0.5)) throw configError("jitter", "a fraction between 0 and 0.5", jitter);
  if (options.versionOf !== undefined && typeof options.versionOf !== "function") throw configError("versionOf", "a function (value) => version number", options.versionOf);
  if (options.serializer !== undefined) {
    const s = options.serializer as Partial<Serializer> | null;
    if (s === null || typeof s !== "object" || typeof s.stringify !== "function" || typeof s.parse !== "function") {
      throw configError("serializer", "an object with stringify(value) and parse(text) functions", options.serializer);
    }
  }
  const loaderTimeoutMs = duration("loaderTimeoutMs", options.loaderTimeoutMs, 5000);
  return {
    prefix,
    ttlMs: duration("ttlMs", options.ttlMs, 60_000),
    jitter,
    staleMs: duration("staleMs", options.staleMs, 0, { zero: true }),
    graceMs: duration("graceMs", options.graceMs, 0, { zero: true }),
    negativeTtlMs: duration("negativeTtlMs", options.negativeTtlMs, 0, { zero: true }),
    loaderTimeoutMs,
    timeoutMs: duration("timeoutMs", options.timeoutMs, 1000),
    lockTtlMs: duration("lockTtlMs", options.lockTtlMs, loaderTimeoutMs),
    lockPollMs: duration("lockPollMs", options.lockPollMs, 25),
    probeIntervalMs: duration("probeIntervalMs", options.probeIntervalMs, 1000),
    maxBytes: duration("maxBytes", options.maxBytes, 1_000_000),
    firstTier: resolveFirstTier(options.firstTier),
  };
}

function resolveFirstTier(value: unknown): ResolvedCacheOptions["firstTier"] {
  if (value === undefined || value === false) return undefined;
  if (value === true) return { maxEntries: 10_000, ttlMs: undefined };
  if (value === null || typeof value !== "object") throw configError("firstTier", "true, false or { maxEntries, ttlMs }", value);
  const { maxEntries, ttlMs, ...rest } = value as FirstTierOptions;
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined) throw configError(`firstTier.${unknown}`, "absent: firstTier takes maxEntries and ttlMs");
  if (maxEntries !== undefined && (typeof maxEntries !== "number" || !Number.isInteger(maxEntries) || maxEntries < 1 || maxEntries > 10_000_000)) {
    throw configError("firstTier.maxEntries", "a whole number between 1 and 10000000", maxEntries);
  }
  return { maxEntries: maxEntries ?? 10_000, ttlMs: ttlMs === undefined ? undefined : duration("firstTier.ttlMs", ttlMs, 0) };
}

/** Checks per-call options (the same rules, naming the option as the caller wrote it). */
export function checkLoadOptions(options: LoadOptions | undefined, defaults: ResolvedCacheOptions): Required<Omit<LoadOptions, "tags">> & { tags: readonly string[] } {
  if (options === undefined) {
    return { ttlMs: defaults.ttlMs, staleMs: defaults.staleMs, graceMs: defaults.graceMs, negativeTtlMs: defaults.negativeTtlMs, loaderTimeoutMs: defaults.loaderTimeoutMs, tags: NO_TAGS };
  }
  return {
    ttlMs: duration("ttlMs", options.ttlMs, defaults.ttlMs),
    staleMs: duration("staleMs", options.staleMs, defaults.staleMs, { zero: true }),
    graceMs: duration("graceMs", options.graceMs, defaults.graceMs, { zero: true }),
    negativeTtlMs: duration("negativeTtlMs", options.negativeTtlMs, defaults.negativeTtlMs, { zero: true }),
    loaderTimeoutMs: duration("loaderTimeoutMs", options.loaderTimeoutMs, defaults.loaderTimeoutMs),
    tags: checkTags(options.tags),
  };
}

const NO_TAGS: readonly string[] = [];
const TAG = /^[^\s\u0000-\u001f\u007f]{1,200}$/;

export function checkTags(tags: unknown): readonly string[] {
  if (tags === undefined) return NO_TAGS;
  if (!Array.isArray(tags) || !tags.every((tag) => typeof tag === "string" && TAG.test(tag))) {
    throw configError("tags", "an array of strings of 1 to 200 characters without whitespace", tags);
  }
  return tags;
}

// A leading "~" is reserved for the cache's own keys (tag generations "~t.", load locks "~l.").
const KEY = /^[^~\s\u0000-\u001f\u007f][^\s\u0000-\u001f\u007f]{0,511}$/;

/** Cache keys: what the application names its entries by (`product:42`). */
export function checkKey(key: unknown): string {
  if (typeof key !== "string" || !KEY.test(key)) throw configError("key", "a string of 1 to 512 characters without whitespace or control characters, not starting with \"~\"", key);
  return key;
}
