import { createHash, createHmac } from "node:crypto";
import { configError, SessionStoreError } from "./errors.js";

/**
 * Derives backend keys. Plain mode: `prefix + id`. Hashed mode (a `keySecret` is set):
 * `prefix + base64url(HMAC-SHA256(secret, id))`, so a dump of the cache (a backup, a replica, a
 * read-only user) yields no usable session ids.
 *
 * Rotation: `keySecret` may be a list. The first secret derives the key of every new session; the others
 * are only looked up on a miss, and a session found under an old secret is moved to the new key
 * (see store.ts), so rotating the secret logs nobody out.
 *
 * Per-user index keys live under `<prefix>~u.`: inside the prefix, so an ACL user (or ElastiCache RBAC
 * access string) limited to `~<prefix>*` can use them, and in a form no session key has (`~` is not in
 * base64url; in plain mode an id starting with `~u.` is refused). `ids()` skips them, and they are
 * never read as sessions.
 */
export interface KeyDeriver {
  readonly prefix: string;
  readonly hashed: boolean;
  /** The key of a session id under the newest secret (or the plain key). */
  key(id: string): string;
  /** The keys an id may live under: newest secret first, then each older secret's. One entry in plain mode. */
  candidates(id: string): string[];
  /** The id part of a key found by scanning (the HMAC itself in hashed mode). */
  idOf(key: string): string;
  /** The per-user index keys of a user id: newest secret first (one entry without rotation). */
  userIndexKeys(userId: string): string[];
  /** The prefix every per-user index key starts with. */
  readonly userIndexPrefix: string;
  /** True for a key that is not a session key (a per-user index); such keys are never read or written as sessions. */
  isIndexKey(key: string): boolean;
}

/** What follows the prefix in a per-user index key. */
export const USER_INDEX_MARK = "~u.";

/** Shortest secret we accept, in bytes: an HMAC key shorter than its output weakens nothing but guessing. */
const MIN_SECRET_BYTES = 32;

export function createKeyDeriver(prefix: string, keySecret?: unknown): KeyDeriver {
  const secrets = keySecret === undefined ? [] : parseSecrets(keySecret);
  const userIndexPrefix = `${prefix}${USER_INDEX_MARK}`;
  const hmac = (secret: Buffer, value: string) => createHmac("sha256", secret).update(value, "utf8").digest("base64url");
  const sessionKeys = (id: string) => (secrets.length === 0 ? [prefix + id] : secrets.map((secret) => prefix + hmac(secret, id)));
  return {
    prefix,
    hashed: secrets.length > 0,
    key: (id) => sessionKeys(id)[0] as string,
    candidates: sessionKeys,
    idOf: (key) => key.slice(prefix.length),
    // The user id is hashed in both modes: it is personal data, and a fixed-length tag keeps keys short.
    userIndexKeys: (userId) =>
      secrets.length === 0
        ? [userIndexPrefix + createHash("sha256").update(`user\u0000${userId}`, "utf8").digest("base64url")]
        : secrets.map((secret) => userIndexPrefix + hmac(secret, `user\u0000${userId}`)),
    userIndexPrefix,
    isIndexKey: (key) => key.startsWith(userIndexPrefix),
  };
}

function parseSecrets(value: unknown): Buffer[] {
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0) throw configError("keySecret", "a secret of at least 32 bytes, or a non-empty list of them (newest first)", value);
  return list.map((secret: unknown, index) => {
    const option = Array.isArray(value) ? `keySecret[${index}]` : "keySecret";
    const bytes = typeof secret === "string" ? Buffer.from(secret, "utf8") : secret instanceof Uint8Array ? Buffer.from(secret) : undefined;
    if (bytes === undefined || bytes.length < MIN_SECRET_BYTES) {
      const got = bytes === undefined ? typeof secret : `${bytes.length} bytes`;
      // Never echo the secret, only its shape.
      throw new SessionStoreError("CONFIG", `option "${option}" must be a string or Buffer of at least ${MIN_SECRET_BYTES} random bytes, e.g. randomBytes(32).toString("base64") (got ${got})`);
    }
    return bytes;
  });
}
