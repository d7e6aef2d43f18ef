import type { Backend } from "./backend.js";
import type { Serializer } from "./codec.js";
import type { EncryptionKey } from "./crypto.js";
import { configError } from "./errors.js";
import type { MigrateFrom } from "./migrate/options.js";
import { refuseUndefinedSecrets } from "./secret-options.js";
import { MAX_TTL_MS, ttlMsOption } from "./ttl.js";

export interface SessionStoreOptions {
  /** The backend: `redisBackend(…)`, `memcachedBackend(…)` or `memoryBackend(…)`. Give this or `url`. */
  backend?: Backend;
  /** Shortcut for a backend: `redis://`, `rediss://`, `memcached://` or `memory://`. Give this or `backend`. */
  url?: string;
  /** Prepended to every backend key. Default `"sess:"`. */
  prefix?: string;
  /**
   * Idle timeout of a session in milliseconds (the sliding TTL), at most 400 days (34 560 000 000); a
   * fraction is rounded up to a whole millisecond. Default 86 400 000 (one day).
   */
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
  /**
   * Secret for hashed keys: the backend key becomes `prefix + base64url(HMAC-SHA256(keySecret, id))`,
   * so a dump of the cache yields no usable session id. A string or Buffer of at least 32 random bytes.
   * A list rotates: the first secret derives new keys, older ones are still found and moved to the new
   * key on their next read. With hashed keys, `ids()` yields the HMACs, which are not session ids.
   * Default: none (the id is the key, as in connect-redis).
   */
  keySecret?: string | Uint8Array | ReadonlyArray<string | Uint8Array>;
  /**
   * Encryption at rest with AES-256-GCM: `[{ id, key }]`, newest first. The first key encrypts, every
   * listed key decrypts (so rotating logs nobody out). Each record is bound to its backend key; a record
   * that is tampered with, copied under another key or sealed with an unlisted key reads as "no session"
   * and emits 'corrupt'. Default: none (records are stored as JSON).
   */
  encryptionKeys?: ReadonlyArray<EncryptionKey>;
  /**
   * With `encryptionKeys`: still read records written before encryption was turned on. Leave it on only
   * for one `ttlMs` after enabling encryption: while on, anyone who can write to the cache can plant a
   * readable session. Default false.
   */
  allowUnencryptedReads?: boolean;
  /**
   * Reads the user id out of the session data on every write, to tag the session for the per-user index
   * (`sessionsOf`, `destroySessionsOf`, `maxSessionsPerUser`), e.g. `(data) => data.userId`. Return
   * undefined for an anonymous session. Default: none (tag with `save(…, { userId })` instead).
   */
  userIdFrom?: (data: Record<string, unknown>) => unknown;
  /**
   * Most live sessions one user may have; a login beyond it destroys that user's oldest sessions.
   * Needs a backend with a per-user index (memory, Redis). Default: unlimited.
   */
  maxSessionsPerUser?: number;
  /**
   * Switching without logging anyone out: when a session id is not in this store, read it from where
   * it lives today and move it here (this store's key, encryption and per-user index), keeping its
   * expiry and idle timeout. Either an incumbent package's keys —
   * `{ format: "connect-redis" | "koa-redis" | "connect-memjs" | "connect-memcached", prefix?, serializer?,
   * backend? | url? | servers?, keepSource? }`, on the store's own backend unless `backend`/`url` says otherwise —
   * or another sessionbridge store: `{ store: oldStore, keepSource? }`. Only a miss reads the source: a
   * moved session costs what any session costs. See docs/switching.md. Default: none.
   */
  migrateFrom?: MigrateFrom;
}

export interface ResolvedOptions {
  prefix: string;
  ttlMs: number;
  timeoutMs: number;
  maxBytes: number;
  touchAfterMs: number;
  maxLifetimeMs: number | undefined;
  /** True when backend keys are HMACs of the ids (`keySecret`). The secrets themselves are not kept here. */
  hashedKeys: boolean;
  /** True when records are encrypted (`encryptionKeys`). */
  encrypted: boolean;
  maxSessionsPerUser: number | undefined;
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
  "keySecret",
  "encryptionKeys",
  "allowUnencryptedReads",
  "userIdFrom",
  "maxSessionsPerUser",
  "migrateFrom",
]);

export function positiveInteger(option: string, value: unknown, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value <= 0 || value > max) {
    throw configError(option, `a whole number of milliseconds between 1 and ${max}`, value);
  }
  return value;
}

function positiveCount(option: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value <= 0 || value > 100_000) {
    throw configError(option, "a whole number between 1 and 100000", value);
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
  refuseUndefinedSecrets(options, ["keySecret", "encryptionKeys"]);
  const prefix = options.prefix ?? "sess:";
  if (typeof prefix !== "string" || prefix.length > 128 || /[\s\u0000-\u001f\u007f]/.test(prefix)) {
    throw configError("prefix", "a string of at most 128 characters without whitespace or control characters", prefix);
  }
  const ttlMs = options.ttlMs === undefined ? 86_400_000 : ttlMsOption("ttlMs", options.ttlMs);
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
  if (options.userIdFrom !== undefined && typeof options.userIdFrom !== "function") {
    throw configError("userIdFrom", "a function (data) => user id or undefined", options.userIdFrom);
  }
  if (options.allowUnencryptedReads !== undefined && typeof options.allowUnencryptedReads !== "boolean") {
    throw configError("allowUnencryptedReads", "true or false", options.allowUnencryptedReads);
  }
  if (options.allowUnencryptedReads === true && options.encryptionKeys === undefined) {
    throw configError("allowUnencryptedReads", 'used together with "encryptionKeys"');
  }
  const maxSessionsPerUser = options.maxSessionsPerUser === undefined ? undefined : positiveCount("maxSessionsPerUser", options.maxSessionsPerUser);
  const hashedKeys = options.keySecret !== undefined;
  const encrypted = options.encryptionKeys !== undefined;
  return { prefix, ttlMs, timeoutMs, maxBytes, touchAfterMs, maxLifetimeMs, hashedKeys, encrypted, maxSessionsPerUser };
}
