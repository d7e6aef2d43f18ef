import { Redis, type Cluster, type RedisOptions } from "ioredis";
import type { RedisEndpoint } from "./options.js";

export type RedisClient = Redis | Cluster;

/** Longest pause between reconnect attempts: after an outage the backend is back at most this long after the server. */
export const MAX_RECONNECT_DELAY_MS = 500;

/** Floor for the connect and dead-socket timeouts, whatever the deadline of single operations. */
const MIN_CONNECTION_TIMEOUT_MS = 1000;

/**
 * ioredis settings that make every operation finish within the store's deadline and never run late.
 * Kept in one place because Sentinel and Cluster clients need exactly the same ones.
 */
export function failFastOptions(timeoutMs: number): RedisOptions {
  return {
    // Connect only when the store has told us its deadline (configure) or on first use.
    lazyConnect: true,
    // A command is sent only on a ready connection. Queued commands would be replayed after the
    // reconnect, long after the store rejected them: a stale SET could resurrect a destroyed session.
    enableOfflineQueue: false,
    // Commands in flight when a connection drops fail at once and are never resent on the new one.
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    // ioredis's ready check sends INFO, which restricted ACL users (ElastiCache RBAC) may not run; that
    // would keep the client reconnecting forever. LOADING replies are retried once instead (connection.ts).
    enableReadyCheck: false,
    // Connecting runs in the background (operations wait for it only until their own deadline), so a
    // very short timeoutMs must not stop a slower link from ever connecting: at least 1 s.
    connectTimeout: Math.max(timeoutMs, MIN_CONNECTION_TIMEOUT_MS),
    // Bounds every command, including the HELLO/AUTH handshake, so a server that accepts TCP and never
    // answers makes the connection cycle instead of hang.
    commandTimeout: timeoutMs,
    // A socket that has answered nothing for a whole deadline while commands wait is treated as dead:
    // drop it and reconnect, so no further commands pile up behind a hung server. At least 1 s, so a
    // tiny timeoutMs on a busy machine does not turn into a reconnect storm.
    socketTimeout: Math.max(timeoutMs, MIN_CONNECTION_TIMEOUT_MS),
    // Reconnect forever, quickly at first, at most MAX_RECONNECT_DELAY_MS apart, so recovery needs no restart.
    retryStrategy: (attempt: number) => Math.min(20 * 2 ** Math.min(attempt, 10), MAX_RECONNECT_DELAY_MS),
  };
}

/**
 * Every ioredis client this backend creates gets an 'error' listener at once, for its whole life. Its
 * errors reach the backend through RedisConnection's own listener, but that one goes away on close, and
 * a socket error after that (a TLS alert on a connection still closing, say) would otherwise be printed
 * by ioredis as "[ioredis] Unhandled error event". A Sentinel client's own sentinel connections get one
 * too (see listenOnSentinelConnections), also on a duplicate made for subscriptions.
 */
export function withErrorListener<T extends RedisClient>(client: T): T {
  client.on("error", () => undefined);
  listenOnSentinelConnections(client);
  return client;
}

/**
 * ioredis's failover detector opens connections of its own to every sentinel (to hear +switch-master)
 * and gives them no 'error' listener, so a sentinel that is down or resets the connection was printed
 * as "[ioredis] Unhandled error event". Those errors tell the backend nothing (the master connection
 * reports what matters, and the detector reconnects by itself), so each sentinel connection the client
 * opens gets a listener. The connector is ioredis's internal object: if its shape changes (or the client
 * is not a Sentinel client), nothing is done.
 */
function listenOnSentinelConnections(client: object): void {
  const connector = (client as { connector?: { connectToSentinel?: (...args: unknown[]) => RedisClient } }).connector;
  const connect = connector?.connectToSentinel;
  if (connector === undefined || typeof connect !== "function" || Object.hasOwn(connector, "connectToSentinel")) return;
  connector.connectToSentinel = (...args: unknown[]) => withErrorListener(connect.apply(connector, args));
}

/** A client this backend owns, configured for the store's deadline. */
export function createClient(endpoint: RedisEndpoint, timeoutMs: number): Redis {
  const options: RedisOptions = {
    ...failFastOptions(timeoutMs),
    host: endpoint.host,
    port: endpoint.port,
    db: endpoint.db,
  };
  if (endpoint.username !== undefined) options.username = endpoint.username;
  if (endpoint.password !== undefined) options.password = endpoint.password;
  if (endpoint.tls !== undefined) options.tls = { ...endpoint.tls };
  return withErrorListener(new Redis(options));
}

/** Applies a new deadline to a client we own (ioredis reads these options on every connect and command). */
export function applyTimeout(client: RedisClient, timeoutMs: number): void {
  const fresh = failFastOptions(timeoutMs);
  const options = (client as { options: RedisOptions }).options;
  options.connectTimeout = fresh.connectTimeout;
  options.commandTimeout = fresh.commandTimeout;
  options.socketTimeout = fresh.socketTimeout;
}
