import type { Backend } from "../backend.js";
import { jsonSerializer } from "../codec.js";
import { configError } from "../errors.js";
import type { SessionStore } from "../store.js";
import { memcachedBackend } from "../backends/memcached.js";
import { backendFromUrl } from "../url.js";
import { connectMemcached } from "./connect-memcached.js";
import { connectMemjs } from "./connect-memjs.js";
import { connectRedis } from "./connect-redis.js";
import { incumbentSource, type IncumbentFormat } from "./incumbent.js";
import { koaRedis } from "./koa-redis.js";
import { sessionbridgeSource } from "./sessionbridge.js";
import type { MigrationSource } from "./source.js";

/** The incumbent stores whose sessions the store can read and move (option `migrateFrom.format`). */
export type IncumbentFormatName = "connect-redis" | "koa-redis" | "connect-memjs" | "connect-memcached";

const FORMATS: Record<IncumbentFormatName, IncumbentFormat> = {
  "connect-redis": connectRedis,
  "koa-redis": koaRedis,
  "connect-memjs": connectMemjs,
  "connect-memcached": connectMemcached,
};

interface MigrateCommon {
  /**
   * Leave the source's copy of a moved session in place (it then expires by its own TTL) instead of
   * deleting it. Use it while old instances still serve traffic, or to keep a way back during a rollback
   * period; see docs/switching.md. A logout through this store deletes both copies either way.
   * Default false: once moved, the session lives in one place only, so a logout anywhere cannot leave a
   * readable copy behind, and no plaintext copy under the raw id outlives a switch to hashed keys or
   * encryption.
   */
  keepSource?: boolean;
}

/** Read an incumbent package's sessions (`migrateFrom: { format: "connect-redis" }`). */
export interface MigrateFromIncumbent extends MigrateCommon {
  /** Which package wrote the sessions. */
  format: IncumbentFormatName;
  /**
   * The incumbent's key prefix: its key is `prefix + session id`. Default: that package's own default —
   * "sess:" for connect-redis, "" for koa-redis (koa-session's `prefix` is already part of the id),
   * connect-memjs and connect-memcached.
   */
  prefix?: string;
  /** The incumbent's `serializer` (connect-redis) or `unserialize` (koa-redis): only `parse` is used. Default: JSON. */
  serializer?: { parse(text: string): unknown };
  /** Where the incumbent's keys live when not in the store's own backend: a backend … */
  backend?: Backend;
  /** … or its URL (the source then opens and closes its own connection). Default: the store's backend. */
  url?: string;
  /**
   * … or, for connect-memjs and connect-memcached on several Memcached nodes, every node
   * (`"host:port"` or a `memcached://` URL each). They spread keys with their own hashing, not ours, so
   * a read asks every node (in parallel) and a removal deletes on every node.
   */
  servers?: readonly string[];
}

/** Read through another sessionbridge store (`migrateFrom: { store: oldStore }`): a new backend, cluster, prefix or key secret. */
export interface MigrateFromStore extends MigrateCommon {
  /** The store sessions are moved out of. It stays yours: this store never closes it. */
  store: SessionStore<object>;
}

export type MigrateFrom = MigrateFromIncumbent | MigrateFromStore;

const KNOWN = ["format", "prefix", "serializer", "backend", "url", "servers", "keepSource", "store"];

export interface MigrationContext {
  backend: Backend;
  prefix: string;
  ttlMs: number;
  timeoutMs: number;
}

/** Validates `migrateFrom` (every mistake names the option) and builds the source the store reads through. */
export function createMigrationSource(option: unknown, store: MigrationContext): MigrationSource {
  if (option === null || typeof option !== "object") throw configError("migrateFrom", '{ format: "connect-redis" | "koa-redis" | "connect-memjs" | "connect-memcached", … } or { store }', option);
  const given = option as Record<string, unknown>;
  for (const name of Object.keys(given)) if (!KNOWN.includes(name)) throw configError(`migrateFrom.${name}`, `left out: it is not a migrateFrom option (known: ${KNOWN.join(", ")})`);
  const keepSource = given.keepSource ?? false;
  if (typeof keepSource !== "boolean") throw configError("migrateFrom.keepSource", "true or false", keepSource);
  if (given.store !== undefined) {
    const old = given.store as Partial<SessionStore> | null;
    if (old === null || typeof old !== "object" || typeof old.load !== "function" || typeof old.destroy !== "function") {
      throw configError("migrateFrom.store", "a store from createSessionStore(…)", given.store);
    }
    for (const name of ["format", "prefix", "serializer", "backend", "url", "servers"]) if (given[name] !== undefined) throw configError(`migrateFrom.${name}`, 'left out with "store" (the old store knows its own backend and format)');
    if (old.backend === store.backend && old.options?.prefix === store.prefix) throw configError("migrateFrom.store", "a store with another backend or prefix than this one");
    return sessionbridgeSource(old as SessionStore<object>, keepSource);
  }
  if (typeof given.format !== "string" || !Object.hasOwn(FORMATS, given.format)) throw configError("migrateFrom.format", `one of ${Object.keys(FORMATS).join(", ")} (or give "store")`, given.format);
  const format = FORMATS[given.format as IncumbentFormatName];
  const prefix = given.prefix ?? format.defaultPrefix;
  if (typeof prefix !== "string" || prefix.length > 128 || /[\s\u0000-\u001f\u007f]/.test(prefix)) throw configError("migrateFrom.prefix", "a string of at most 128 characters without whitespace or control characters", prefix);
  const serializer = given.serializer as { parse?: unknown } | undefined;
  if (serializer !== undefined && (serializer === null || typeof serializer !== "object" || typeof serializer.parse !== "function")) {
    throw configError("migrateFrom.serializer", "an object with a parse(text) function", serializer);
  }
  const places = ["backend", "url", "servers"].filter((name) => given[name] !== undefined);
  if (places.length > 1) throw configError(`migrateFrom.${places[0]}`, `given alone: pass one of "backend", "url" or "servers", not ${places.map((p) => `"${p}"`).join(" and ")}`);
  if (given.backend !== undefined && (given.backend === null || typeof (given.backend as Partial<Backend>).get !== "function")) throw configError("migrateFrom.backend", "a backend (redisBackend(…), memcachedBackend(…))", given.backend);
  const shared = places.length === 0;
  if (shared || given.backend === store.backend) assertApart(prefix, store);
  const owned = given.url !== undefined ? [backendFromUrl(given.url as string)] : given.servers !== undefined ? memcachedNodes(given.servers, format) : undefined;
  for (const backend of owned ?? []) backend.configure?.({ timeoutMs: store.timeoutMs });
  const backends = owned ?? [shared ? store.backend : (given.backend as Backend)];
  return incumbentSource({
    format,
    backends: backends as [Backend, ...Backend[]],
    ownsBackend: owned !== undefined,
    prefix,
    parse: serializer === undefined ? jsonSerializer.parse : (text) => (serializer.parse as (text: string) => unknown)(text),
    keepSource,
    fallbackTtlMs: store.ttlMs,
    skipPrefix: shared || given.backend === store.backend ? store.prefix : undefined,
  });
}

/** One backend per Memcached node of a multi-node incumbent (see `servers`). */
function memcachedNodes(servers: unknown, format: IncumbentFormat): Backend[] {
  if (format !== connectMemjs && format !== connectMemcached) throw configError("migrateFrom.servers", 'used with format "connect-memjs" or "connect-memcached" (Redis incumbents: give "url" or "backend")');
  if (!Array.isArray(servers) || servers.length === 0 || !servers.every((s) => typeof s === "string" && s.length > 0)) {
    throw configError("migrateFrom.servers", 'a non-empty list of Memcached nodes, "host:port" or memcached:// URLs', servers);
  }
  return servers.map((server: string) => (server.startsWith("memcached://") ? memcachedBackend({ url: server }) : memcachedBackend({ servers: [server] })));
}

/**
 * On one backend the two key spaces must not meet: with equal prefixes a session's key would be both
 * ours and the incumbent's, and where keys can be listed (Redis), one prefix inside the other would make
 * `ids()` list the incumbent's keys as ours. (An incumbent prefix that is a start of ours, such as the
 * "" of connect-memjs, is fine: the source's listing skips our keys.)
 */
function assertApart(prefix: string, store: MigrationContext): void {
  const overlaps = prefix === store.prefix || (store.backend.capabilities.scan && prefix.startsWith(store.prefix));
  if (overlaps) {
    throw configError("migrateFrom.prefix", `a prefix apart from the store's own ("${store.prefix}") when both live on one backend: give the store a new prefix, e.g. prefix: "sb:"`, prefix);
  }
}
