import type { ServedBy } from "./tracing.js";

/**
 * The one small contract every backend implements. A backend executes commands and reports typed
 * failures; it holds no policy (TTLs, codecs, retries on bad data are the store's business).
 *
 * Keys reaching a backend are already derived by the store (prefix + id or its HMAC). Values are the
 * store's encoded envelopes: strings that start with a version header (see record.ts).
 */
export interface BackendEvents {
  /** The backend lost its connection to the server(s). */
  unavailable: (error: Error) => void;
  /** The backend is connected (again). */
  available: () => void;
  /** An error worth logging that did not fail an operation. */
  error: (error: Error) => void;
}

export interface BackendCapabilities {
  /** `scan` can enumerate keys by prefix. */
  scan: boolean;
  /** `set` honours `condition: "version"` atomically (compare-and-set). */
  compareAndSet: boolean;
  /** The per-user index methods (`indexAdd` …) exist and are consistent. */
  userIndex: boolean;
  /**
   * `publish` / `subscribe` exist: a message published through any backend on the same server(s) reaches
   * every subscriber (Redis pub/sub; in-process for memory). Absent or false on Memcached.
   */
  pubsub?: boolean;
}

/** Receives the messages of one subscription. */
export interface SubscriptionListener {
  message(message: string): void;
  /**
   * The subscription was interrupted (a reconnect): messages published meanwhile were lost. A subscriber
   * that keeps state by the messages (an in-process cache tier) must treat it as "anything may have changed".
   */
  reset(): void;
}

export type SetCondition =
  /** Write whatever is there. */
  | { kind: "always" }
  /** Write only when no value exists under the key (create). */
  | { kind: "absent" }
  /** Write only when a value exists (update; a destroyed session stays destroyed). */
  | { kind: "exists" }
  /** Write only when the stored value starts with `prefix` (compare-and-set on the envelope header). */
  | { kind: "version"; prefix: string };

/**
 * The last argument of `get`, `set`, `touch` and `delete` while someone listens on the store's tracing
 * channels (tracing.ts), and only then: the backend sets `node` to the server it sent the command to (the
 * last one when it tried several: a replica that missed and then the primary, a node that failed and then
 * the next). A backend that cannot tell leaves it unset. Untraced commands get no observer and pay nothing.
 */
export interface CommandObserver {
  node?: ServedBy;
}

export interface GetOptions {
  /** Also reset the key's TTL to this many milliseconds in the same round trip. */
  refreshTtlMs?: number;
}

/** What a `set` did. `missing` and `mismatch` mean the condition failed and nothing was written. */
export type SetResult = "ok" | "missing" | "exists" | "mismatch";

/** One server of a backend, as `health()` sees it. Never contains credentials. */
export interface NodeHealth {
  /** `host:port` of the node (or the backend's label when the address is not known, e.g. `memory`). */
  node: string;
  /** `primary` takes writes, `replica` serves reads, `node` is one of several equal nodes (Memcached, memory). */
  role: "primary" | "replica" | "node";
  /** It answered a PING (Redis) / NOOP (Memcached) within the deadline. */
  reachable: boolean;
  /** Round trip of that PING / NOOP in milliseconds, when it answered. */
  latencyMs?: number;
  /** Why it is not reachable (a message naming no credential). */
  lastError?: string;
  /**
   * Replicas used for reads (`readers`, Sentinel replicas): how many bytes of the primary's replication
   * stream the replica has not applied yet (INFO replication offsets; 0 = in sync). Unset when the
   * server does not let this user run INFO (some ElastiCache RBAC users).
   */
  replicationLagBytes?: number;
}

export interface Backend {
  /** e.g. `redis 127.0.0.1:6379` or `memory`. Used in messages; never contains credentials. */
  readonly label: string;
  readonly capabilities: BackendCapabilities;
  /**
   * The deadline the store will apply to every operation. Called once by the store so the backend can
   * bound its own connect and command timeouts by it (a backend must never hang past it).
   */
  configure?(settings: { timeoutMs: number }): void;
  get(key: string, options?: GetOptions, observer?: CommandObserver): Promise<string | null>;
  set(key: string, value: string, ttlMs: number, condition?: SetCondition, observer?: CommandObserver): Promise<SetResult>;
  /** Resets the TTL. Resolves false when there is no such key. */
  touch(key: string, ttlMs: number, observer?: CommandObserver): Promise<boolean>;
  /** Deletes the keys; resolves how many existed. */
  delete(keys: readonly string[], observer?: CommandObserver): Promise<number>;
  /** Yields batches of keys that start with `prefix`. Rejects UNSUPPORTED when `capabilities.scan` is false. */
  scan(prefix: string): AsyncIterable<string[]>;
  ping(): Promise<void>;
  /** Every node: reachable, role, ping latency (see NodeHealth). Optional: the store falls back to `ping`. */
  health?(): Promise<NodeHealth[]>;
  close(): Promise<void>;

  // For backup and operator tools (see tools.ts), never on a request's path. Optional: a backend
  // without them says so through the tool (UNSUPPORTED).
  /** Milliseconds the key has left to live, without changing it: null when there is no such key, Infinity when it never expires (Redis PTTL). */
  remainingTtl?(key: string): Promise<number | null>;
  /**
   * Lists keys that start with `prefix` with their expiry (epoch ms, null when it never expires), where
   * `scan` cannot list (Memcached: `lru_crawler metadump`). Keys the backend cannot turn back into store
   * keys are left out and counted in `unlisted`.
   */
  listWithExpiry?(prefix: string, unlisted?: { count: number }): AsyncIterable<Array<{ key: string; expiresAtMs: number | null }>>;
  /** Subscribe to availability events. Returns an unsubscribe function. */
  on<E extends keyof BackendEvents>(event: E, listener: BackendEvents[E]): () => void;

  // Pub/sub (present when capabilities.pubsub). Messages are best effort: a subscriber that is
  // disconnected misses them and is told so through `reset`.
  /** Sends `message` to every subscriber of `channel`. */
  publish?(channel: string, message: string): Promise<void>;
  /** Subscribes until the returned function is called (or the backend is closed); resolves at once, delivery starts when connected. */
  subscribe?(channel: string, listener: SubscriptionListener): () => void;

  // Per-user index (present when capabilities.userIndex): a set of members with an expiry each.
  /** Adds or updates members of the index; the index key itself lives at least until `keyTtlMs`. */
  indexAdd?(indexKey: string, members: ReadonlyArray<{ member: string; expiresAtMs: number }>, keyTtlMs: number): Promise<void>;
  /** Lists live members (expired ones are removed as a side effect). */
  indexList?(indexKey: string, nowMs: number): Promise<Array<{ member: string; expiresAtMs: number }>>;
  indexRemove?(indexKey: string, members: readonly string[]): Promise<void>;
}
