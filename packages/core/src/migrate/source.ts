import type { SessionRecord } from "../record.js";

/**
 * A session as a migration source holds it, before it is moved into the store: the user data and the
 * expiry the incumbent stored with it. `createdAtMs`, `userId` and `meta` are known only when the source
 * is another sessionbridge store; otherwise the move sets the creation time to now and the user from
 * the store's `userIdFrom`. `browserSession`: the incumbent's cookie had no expiry (it stays a
 * browser-session cookie after the move).
 */
export type SourceSession = Pick<SessionRecord, "data" | "ttlMs" | "expiresAtMs"> & Partial<Pick<SessionRecord, "createdAtMs" | "userId" | "meta" | "browserSession">>;

/**
 * What a migration source found under a session id: the session, `"absent"` (no such key), or
 * `"unreadable"` (a value that does not parse, or is not a session of this format: it is left alone).
 */
export type SourceRead = SourceSession | "absent" | "unreadable";

/**
 * Where the store reads sessions it does not have yet (option `migrateFrom`): an incumbent's keys in its
 * format (connect-redis, koa-redis, connect-memjs, connect-memcached) or another sessionbridge store.
 * The store reads through it on a miss and moves what it finds (see `move` in store.ts). Exposed as
 * `store.migrateSource` for bulk tools (the `sessionbridge migrate` command): list with `ids()`, move
 * each id with `store.migrate(id)`.
 */
export interface MigrationSource {
  /** e.g. `connect-redis on redis 127.0.0.1:6379 (prefix "sess:")`; never contains credentials. */
  readonly label: string;
  /** True when a moved session's source copy is left in place (option `keepSource`). */
  readonly keepSource: boolean;
  /** Reads the session under `id` in the source's format. Never changes anything. */
  read(id: string): Promise<SourceRead>;
  /** Deletes the source's copy; resolves true when it was still there. */
  remove(id: string): Promise<boolean>;
  /**
   * Every session id the source holds (SCAN under its prefix on Redis, never KEYS), without the store's
   * own keys. Memcached sources list through `lru_crawler metadump` where the server allows it (not with SASL). Rejects UNSUPPORTED where the source cannot list (a server that refuses metadump; a store with hashed keys).
   */
  ids(): AsyncIterable<string>;
  /** Closes what the source opened itself (a backend from `url`); never a backend or store it was given. */
  close(): Promise<void>;
}
