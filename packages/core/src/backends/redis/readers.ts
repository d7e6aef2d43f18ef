import { SessionStoreError } from "../../errors.js";
import type { CommandObserver, GetOptions } from "../../backend.js";
import type { ReadFrom } from "./topology.js";

/**
 * Read routing with read-your-writes. A replica answers the common read in one round trip (GET + PTTL);
 * the primary is asked when the replica misses (a session written a moment ago has not arrived there
 * yet: every fresh login), when the TTL needs pushing (GETEX and PEXPIRE are writes: replicas refuse
 * them), and for keys this process wrote a moment ago.
 */
export interface ReplicaRead {
  value: string | null;
  /** The key's remaining TTL on the replica in ms (-1 none, -2 missing), as PTTL answers. */
  pttlMs: number;
}

/** Each route tells a traced read's `observer` (backend.ts) the server it asked. */
export interface ReadRoutes {
  /** GET + PTTL on a replica, one round trip. Must not throw synchronously (return a rejection). */
  replica(key: string, observer: CommandObserver | undefined): Promise<ReplicaRead>;
  /** GET, or GETEX PX when `refreshTtlMs` is given, on the primary. */
  primary(key: string, refreshTtlMs: number | undefined, observer: CommandObserver | undefined): Promise<string | null>;
  /** PEXPIRE on the primary; false when the primary no longer has the key. */
  expire(key: string, ttlMs: number, observer: CommandObserver | undefined): Promise<boolean>;
}

export interface ReadRouter {
  readonly readFrom: ReadFrom;
  get(key: string, options?: GetOptions, observer?: CommandObserver): Promise<string | null>;
  /** Call after this process wrote or deleted `key`: its next reads go to the primary for a moment. */
  wrote(key: string): void;
  /** Bounds a replica attempt (called by the backend once it knows the store's deadline). */
  setTimeoutMs(timeoutMs: number): void;
}

/**
 * How long a key stays on the primary after this process wrote it. Replication on a healthy link takes
 * well under a millisecond; a second covers a busy replica, and it makes the store's compare-and-set
 * retry loop read the value it just lost against instead of a stale replica copy.
 */
export const PIN_MS = 1000;
/** Most keys remembered as "just written" (oldest forgotten first): bounds memory under any load. */
export const PIN_CAPACITY = 10_000;

export function createReadRouter(readFrom: ReadFrom, routes: ReadRoutes, touchAfterMs: (ttlMs: number) => number): ReadRouter {
  const pinned = new Map<string, number>();
  let replicaBudgetMs = 500;

  const isPinned = (key: string): boolean => {
    const until = pinned.get(key);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    pinned.delete(key);
    return false;
  };

  const askReplica = (key: string, observer: CommandObserver | undefined): Promise<ReplicaRead> => {
    if (readFrom !== "replica-preferred") return routes.replica(key, observer);
    // A hung replica must leave time for the primary within the store's deadline.
    const attempt = routes.replica(key, observer);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new SessionStoreError("TIMEOUT", `replica read did not answer within ${replicaBudgetMs} ms`)), replicaBudgetMs);
      timer.unref?.();
    });
    attempt.catch(() => undefined);
    return Promise.race([attempt, late]).finally(() => clearTimeout(timer));
  };

  return {
    readFrom,
    setTimeoutMs(timeoutMs) {
      replicaBudgetMs = Math.max(1, Math.floor(timeoutMs / 2));
    },
    wrote(key) {
      if (readFrom === "primary") return;
      pinned.delete(key);
      pinned.set(key, Date.now() + PIN_MS);
      if (pinned.size > PIN_CAPACITY) {
        const oldest = pinned.keys().next();
        if (!oldest.done) pinned.delete(oldest.value);
      }
    },
    async get(key, options, observer) {
      const refreshTtlMs = options?.refreshTtlMs;
      if (readFrom === "primary" || isPinned(key)) return routes.primary(key, refreshTtlMs, observer);
      let read: ReplicaRead;
      try {
        read = await askReplica(key, observer);
      } catch (error) {
        if (readFrom === "replica") throw error;
        return routes.primary(key, refreshTtlMs, observer);
      }
      // A miss may be a session the replica has not received yet: only the primary can say it is gone.
      if (read.value === null) return routes.primary(key, refreshTtlMs, observer);
      if (refreshTtlMs !== undefined && read.pttlMs < refreshTtlMs - touchAfterMs(refreshTtlMs)) {
        // The primary no longer having it means it was destroyed (logout) and the replica lags behind.
        if (!(await routes.expire(key, refreshTtlMs, observer))) return null;
      }
      return read.value;
    },
  };
}
