import diagnosticsChannel, { type TracingChannel } from "node:diagnostics_channel";

/**
 * Store operations published on `node:diagnostics_channel` tracing channels, one per operation:
 * `sessionbridge:<operation>` with the usual `start` / `end` / `asyncStart` / `asyncEnd` / `error`
 * sub-channels. This is public API (docs/operations.md): APM tools and `@sessionbridge/opentelemetry`
 * subscribe to it. The context names the operation, never the session id, its data or a secret.
 *
 * Nothing is allocated or published while nobody subscribes: the store checks `hasSubscribers` once per
 * operation and otherwise runs the operation as it would without tracing.
 */
export type TracedOperation =
  | "get"
  | "touch"
  | "set"
  | "save"
  | "destroy"
  | "migrate"
  | "ping"
  | "sessionsOf"
  | "destroySessionsOf"
  | "destroySessionOf"
  | "scan"
  | "clear";

/**
 * What an operation found or did:
 * - reads (`get`, `touch`): `hit`, `miss` (no such session), `expired` (found past its absolute lifetime
 *   or, with lazy touch, past its expiry: deleted), `corrupt` (did not decode or decrypt: no session);
 * - `set`: `written`; `save`: `written`, `merged` (written after merging a concurrent change),
 *   `unchanged` (nothing to write), `gone` (destroyed meanwhile: not written back);
 * - `destroy`: `hit` (a copy was deleted) or `miss`; `migrate`: its MigrateOutcome mapped to `written`
 *   (moved), `hit` (present), `miss` (absent), `expired`, `corrupt` (unreadable), `gone`.
 * Unset when the operation failed (see `error`) or has no outcome (`ping`, per-user operations, listing).
 */
export type OperationOutcome = "hit" | "miss" | "expired" | "corrupt" | "written" | "unchanged" | "merged" | "gone";

/** The server a traced operation reached (see `OperationContext.node`). */
export interface ServedBy {
  /**
   * `primary` (a standalone server, a Sentinel master, a Cluster master), `replica` (a `readers` URL, a
   * Sentinel replica, a Cluster replica through `readFrom`) or `node` (one of several equal Memcached nodes).
   */
  readonly role: "primary" | "replica" | "node";
  /**
   * `host:port` (`[ipv6]:port`) of that server as the client is connected to it: the socket's peer when
   * known (an IP where a name was configured), else the configured address. Never credentials. Unset where
   * the client does not tell (a node-redis client, a Cluster replica chosen by the client).
   */
  readonly address?: string;
}

/** The context object every sub-channel of `sessionbridge:<operation>` publishes. */
export interface OperationContext {
  /** The operation, the channel name's suffix. */
  readonly operation: TracedOperation;
  /** The backend's kind: `redis`, `memcached`, `memory` (the first word of its label). */
  readonly system: string;
  /** The backend's label, e.g. `redis 127.0.0.1:6379` or `memcached 2 nodes` (never credentials). */
  readonly backend: string;
  /** The store's key prefix. */
  readonly prefix: string;
  /** See {@link OperationOutcome}; set before `asyncEnd`. */
  outcome?: OperationOutcome;
  /** Size in bytes of the stored value read or written, when one was. */
  bytes?: number;
  /** Fields this `save` changed that a concurrent request had changed too (the `conflict` event's fields). */
  conflicts?: number;
  /** Extra write rounds a `save` needed after losing a compare-and-set to a concurrent request. */
  retries?: number;
  /**
   * The server the operation's last command on the session's key went to (a read that missed on a replica
   * and was answered by the primary says `primary`), told by the backend (backend.ts `CommandObserver`).
   * Set by the operations on one session (`get`, `touch`, `set`, `save`, `destroy`, `migrate`); unset for
   * the others (they span several keys or nodes), for the memory backend and when no command was sent.
   * It names an address: keep it out of anything a visitor sees.
   */
  node?: ServedBy;
  /** The `SessionStoreError` the operation failed with (set before the `error` sub-channel publishes). */
  error?: unknown;
}

/** The channel names, e.g. `TRACING_CHANNELS.get === "sessionbridge:get"`. */
export const TRACING_CHANNELS: { readonly [O in TracedOperation]: `sessionbridge:${O}` } = {
  get: "sessionbridge:get",
  touch: "sessionbridge:touch",
  set: "sessionbridge:set",
  save: "sessionbridge:save",
  destroy: "sessionbridge:destroy",
  migrate: "sessionbridge:migrate",
  ping: "sessionbridge:ping",
  sessionsOf: "sessionbridge:sessionsOf",
  destroySessionsOf: "sessionbridge:destroySessionsOf",
  destroySessionOf: "sessionbridge:destroySessionOf",
  scan: "sessionbridge:scan",
  clear: "sessionbridge:clear",
};

/** Published on the plain channel `sessionbridge:availability` when the store's `unavailable` / `available` events fire. */
export interface AvailabilityMessage {
  /** false: the backend became unreachable (or timed out); true: it answers again. */
  readonly available: boolean;
  readonly system: string;
  readonly backend: string;
  readonly prefix: string;
  /** Why it became unavailable (a `SessionStoreError`). */
  readonly error?: unknown;
}

export const AVAILABILITY_CHANNEL = "sessionbridge:availability";
export const availabilityChannel = diagnosticsChannel.channel(AVAILABILITY_CHANNEL);

/**
 * `@sessionbridge/cache` publishes on tracing channels of its own, `sessionbridge:cache.<operation>`, with
 * the same sub-channels and the same rules (no key, no value, no secret; nothing allocated while nobody
 * listens). Its hits and misses are not the session store's, so they do not go on `sessionbridge:get`.
 * - `lookup` (`getOrLoad` / `lookup`): outcome is where the value came from (`hit`, `stale`, `grace`,
 *   `miss`, `joined`, `waited`, `bypass`, `local`);
 * - `load`: one loader call (the database query a miss costs); outcome `found` or `notFound`, or `error`
 *   when the loader failed or passed `loaderTimeoutMs`;
 * - `set` (write-through, each entry of a `setMany`): outcome `written`, `older` or `unavailable`;
 * - `delete`, `invalidateTag`: no outcome.
 */
export type CacheOperation = "lookup" | "load" | "set" | "delete" | "invalidateTag";

export type CacheOutcome = "hit" | "stale" | "grace" | "miss" | "joined" | "waited" | "bypass" | "local" | "found" | "notFound" | "written" | "older" | "unavailable";

/** The context object every sub-channel of `sessionbridge:cache.<operation>` publishes. */
export interface CacheOperationContext {
  readonly operation: CacheOperation;
  /** The backend's kind: `redis`, `memcached`, `memory`. */
  readonly system: string;
  /** The backend's label (never credentials). */
  readonly backend: string;
  /** The cache's key prefix. */
  readonly prefix: string;
  /** See {@link CacheOperation}; set before `asyncEnd`. */
  outcome?: CacheOutcome;
  /**
   * The server that held the entry (or tag) an operation on one key last reached, as for sessions
   * (`OperationContext.node`): a `lookup` answered from the backend, a `set`, a `delete` of one key, an
   * `invalidateTag` of one tag. Unset for `load` (the loader is not the cache), a lookup answered in
   * process (`local`, `joined`) or while the backend is down (`bypass`), and the memory backend.
   */
  node?: ServedBy;
  /** What the operation failed with (set before the `error` sub-channel publishes). */
  error?: unknown;
}

export const CACHE_TRACING_CHANNELS: { readonly [O in CacheOperation]: `sessionbridge:cache.${O}` } = {
  lookup: "sessionbridge:cache.lookup",
  load: "sessionbridge:cache.load",
  set: "sessionbridge:cache.set",
  delete: "sessionbridge:cache.delete",
  invalidateTag: "sessionbridge:cache.invalidateTag",
};

/** A tracing channel whose sub-channels publish `C`. */
export type TracedChannel<C extends object> = TracingChannel<unknown, C>;

type Channel = TracedChannel<OperationContext>;

/** The tracing channel of each operation, created once per process (diagnostics_channel keeps them by name). */
export const tracingChannels = Object.fromEntries(
  Object.entries(TRACING_CHANNELS).map(([operation, name]) => [operation, diagnosticsChannel.tracingChannel(name) as unknown as Channel]),
) as { readonly [O in TracedOperation]: Channel };

/** The cache's tracing channels (for `@sessionbridge/cache`, through `@sessionbridge/core/adapter`). */
export const cacheTracingChannels = Object.fromEntries(
  Object.entries(CACHE_TRACING_CHANNELS).map(([operation, name]) => [operation, diagnosticsChannel.tracingChannel(name) as unknown as TracedChannel<CacheOperationContext>]),
) as { readonly [O in CacheOperation]: TracedChannel<CacheOperationContext> };

/**
 * True when anyone listens on the channel. `TracingChannel.hasSubscribers` exists from Node 20.13; on
 * older releases the sub-channels are asked.
 */
export function isTraced<C extends object>(channel: TracedChannel<C>): boolean {
  const own = (channel as { hasSubscribers?: boolean }).hasSubscribers;
  if (own !== undefined) return own;
  return channel.start.hasSubscribers || channel.end.hasSubscribers || channel.asyncStart.hasSubscribers || channel.asyncEnd.hasSubscribers || channel.error.hasSubscribers;
}

/**
 * Runs `work` inside the channel's trace, like `TracingChannel.tracePromise` but without putting the
 * operation's result on the context (a `get` resolves with the session's data, which must never reach an
 * observer). `start` runs the bound stores (AsyncLocalStorage), so a span opened on `start` is the parent
 * of whatever the operation does.
 */
export function trace<R, C extends { error?: unknown }>(channel: TracedChannel<C>, context: C, work: () => Promise<R>): Promise<R> {
  const { start, end, asyncStart, asyncEnd, error } = channel;
  const finish = (): void => {
    asyncStart.publish(context);
    asyncEnd.publish(context);
  };
  return start.runStores(context, () => {
    let promise: Promise<R>;
    try {
      promise = work();
    } catch (thrown) {
      context.error = thrown;
      error.publish(context);
      throw thrown;
    } finally {
      end.publish(context);
    }
    return promise.then(
      (result) => {
        finish();
        return result;
      },
      (thrown: unknown) => {
        context.error = thrown;
        error.publish(context);
        finish();
        throw thrown;
      },
    );
  });
}
