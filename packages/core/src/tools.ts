import { SessionStoreError } from "./errors.js";
import { internalsOf } from "./internals.js";
import { encodeBody, openBody, parseBody, peekVersion, sealedBody, sealRecord, type SessionRecord } from "./record.js";
import type { SessionStore } from "./store.js";

/**
 * `@sessionbridge/core/tools`: raw access to stored sessions for operator tools (the `sessionbridge`
 * command's export and import): list keys, read a stored record without sliding its TTL, and write one
 * back with a given expiry. Applications use the store's own API; these bypass its read rules on purpose.
 */

/** A session as stored: its key after the store's prefix, the stored envelope, and when it expires. */
export interface StoredSession {
  /** The backend key without the store's prefix: the session id, or its HMAC when the store hashes keys (`keySecret`). */
  key: string;
  /** The stored envelope (`sb1:<version>:<body>`): sealed when the store encrypts, unless read with `open`. */
  value: string;
  /** When it expires (epoch ms); null when it has no expiry. */
  expiresAtMs: number | null;
}

/**
 * What a stored value is to this store: `clear` (a session body in clear text), `sealed` (encrypted and
 * not opened: the store has no key for it, or it was not asked to open it), `corrupt` (not a session
 * envelope, or a body that does not open or parse).
 */
export type StoredState = "clear" | "sealed" | "corrupt";

/** A key found by listing, with its expiry when the listing knows it (Memcached's metadump does). */
export interface ListedKey {
  key: string;
  expiresAtMs?: number | null;
}

/**
 * Every session key under the store's prefix, in batches, without reading a value: SCAN on Redis (never
 * KEYS), `lru_crawler metadump all` on Memcached where the server allows it. The per-user index is left
 * out. `unlisted.count` counts keys that cannot be listed (Memcached keys over 250 bytes, stored hashed).
 * Rejects UNSUPPORTED where the backend cannot list.
 */
export async function* storedKeys(store: SessionStore<object>, unlisted?: { count: number }): AsyncIterable<ListedKey[]> {
  const { keys, run } = internalsOf(store);
  const backend = store.backend;
  const source = backend.capabilities.scan ? backend.scan(keys.prefix) : backend.listWithExpiry?.(keys.prefix, unlisted);
  if (source === undefined) {
    throw new SessionStoreError("UNSUPPORTED", `${backend.label} cannot list keys, so sessions cannot be exported or counted`, { backend: backend.label });
  }
  const iterator = (source as AsyncIterable<Array<string | { key: string; expiresAtMs: number | null }>>)[Symbol.asyncIterator]();
  try {
    for (;;) {
      // A SCAN step is one command, under the operation's deadline. A metadump step is not: the crawler may
      // walk millions of cache items before the next session under the prefix, and the listing has its own
      // deadline for a silent server (metadump.ts), so a node shared with a large cache can still be listed.
      const step = backend.capabilities.scan ? await run("scan", () => iterator.next()) : await iterator.next();
      if (step.done) return;
      const batch: ListedKey[] = [];
      for (const item of step.value) {
        const listed = typeof item === "string" ? { key: item } : item;
        if (!keys.isIndexKey(listed.key)) batch.push(typeof item === "string" ? { key: listed.key.slice(keys.prefix.length) } : { key: listed.key.slice(keys.prefix.length), expiresAtMs: item.expiresAtMs });
      }
      if (batch.length > 0) yield batch;
    }
  } finally {
    // A consumer that stops early (a failed export, a break) ends the listing too: the metadump's own
    // connection is closed instead of staying open and keeping the process alive. Not awaited: a SCAN
    // step abandoned by its deadline may still be pending, and the caller should not wait for it.
    iterator.return?.()?.catch(() => undefined);
  }
}

/**
 * Reads one stored session without changing it (no TTL slide, no move, no re-seal), with when it
 * expires: from the listing when it knew (`listed.expiresAtMs`), else asked of the backend (Redis
 * PTTL). Null when the key is gone. `open: true` returns the body in clear text when the store has the
 * encryption key for it (else the value stays as stored).
 */
export async function readStored(store: SessionStore<object>, listed: ListedKey, options: { open?: boolean } = {}): Promise<{ session: StoredSession; state: StoredState } | null> {
  const internals = internalsOf(store);
  const backend = store.backend;
  const full = internals.keys.prefix + listed.key;
  if (internals.keys.isIndexKey(full)) return null;
  let expiry: Promise<number | null | undefined> = Promise.resolve(listed.expiresAtMs);
  if (listed.expiresAtMs === undefined) {
    const remainingTtl = backend.remainingTtl?.bind(backend);
    if (remainingTtl === undefined) throw new SessionStoreError("UNSUPPORTED", `${backend.label} cannot tell a key's remaining TTL`, { backend: backend.label });
    const asked = Date.now();
    expiry = internals.run("ttl", () => remainingTtl(full)).then((ms) => (ms === null ? undefined : ms === Number.POSITIVE_INFINITY ? null : asked + ms));
  }
  const [value, expiresAtMs] = await Promise.all([internals.run("get", () => backend.get(full)), expiry]);
  if (value === null || expiresAtMs === undefined) return null;
  const { state, body } = inspect(store, value, full);
  const version = peekVersion(value) as string;
  const shown = options.open === true && state === "clear" && body !== undefined ? sealRecord(version, body, full) : value;
  return { session: { key: listed.key, value: shown, expiresAtMs }, state };
}

/**
 * What a stored value is to this store (see {@link StoredState}); `body` is its clear text when it opens.
 * `fullKey` is the backend key the value was sealed under (encryption binds a value to its key).
 */
function inspect(store: SessionStore<object>, value: string, fullKey: string): { state: StoredState; body?: string; record?: SessionRecord } {
  const { serializer, transform } = internalsOf(store);
  const version = peekVersion(value);
  if (version === null) return { state: "corrupt" };
  const sealed = sealedBody(value);
  const body = sealed.startsWith("e1.") ? (transform === undefined ? null : openBody(sealed, fullKey, transform)) : sealed;
  if (body === null) return { state: transform === undefined ? "sealed" : "corrupt" };
  const record = parseBody(body, version, serializer);
  return record === null ? { state: "corrupt" } : { state: "clear", body, record };
}

/**
 * What `writeStored` did: `written`; `exists` (a session is already stored under the key and
 * `overwrite` was not given); `expired` (its expiry has passed); `sealed` (encrypted for another key
 * and the store has no encryption key to open it: give the keys); `corrupt` (not a session).
 */
export type WriteStoredOutcome = "written" | "exists" | "expired" | "sealed" | "corrupt";

/**
 * Writes an exported session into the store under `prefix + session.key`, expiring when it did
 * (`expiresAtMs`; a session without one gets its own idle timeout). A record in clear text is sealed
 * with the store's encryption and put in the per-user index as any write; a sealed one is opened with
 * the store's keys when it must move to another key (`sourcePrefix` differs), else written as it is.
 * Never overwrites a stored session unless `overwrite`.
 */
export async function writeStored(store: SessionStore<object>, session: StoredSession, options: { sourcePrefix: string; overwrite?: boolean }): Promise<WriteStoredOutcome> {
  const internals = internalsOf(store);
  const backend = store.backend;
  const full = internals.keys.prefix + session.key;
  if (internals.keys.isIndexKey(full) || internals.keys.isIndexKey(options.sourcePrefix + session.key)) return "corrupt";
  const now = Date.now();
  if (session.expiresAtMs !== null && session.expiresAtMs <= now) return "expired";
  const seen = inspect(store, session.value, options.sourcePrefix + session.key);
  if (seen.state === "corrupt") return "corrupt";
  let text = session.value;
  let ttl = session.expiresAtMs === null ? store.options.ttlMs : session.expiresAtMs - now;
  if (seen.record !== undefined) {
    const record = seen.record;
    if (session.expiresAtMs === null) ttl = record.ttlMs;
    await internals.index(full, record);
    text = sealRecord(record.version, encodeBody(record, internals.serializer), full, internals.transform);
  } else if (full !== options.sourcePrefix + session.key) {
    return "sealed"; // sealed for its old key, and no key here to open it
  }
  const result = await internals.run("set", () => backend.set(full, text, ttl, options.overwrite === true ? { kind: "always" } : { kind: "absent" }));
  return result === "ok" ? "written" : "exists";
}
