import { Cluster, type ClusterOptions, type Redis } from "ioredis";
import { failFastOptions, MAX_RECONNECT_DELAY_MS, withErrorListener } from "./client.js";
import type { RedisEndpoint } from "./options.js";
import type { HighAvailabilityOptions, ReadFrom, RedisAddress } from "./topology.js";

/**
 * Redis Cluster (ElastiCache cluster mode enabled) over ioredis's Cluster client. Sessions are single
 * keys, so they spread over the slots by themselves; what needs care is everything that touches many
 * keys (listing and deleting a batch: see client-commands.ts) and keeping the client's own retries
 * inside the store's deadline.
 */

/** How often the slot map (masters and their replicas) is re-read. */
const SLOTS_REFRESH_MS = 5000;

/** The commands a replica may answer: the session read (GET + PTTL) and nothing else. */
const REPLICA_COMMANDS = new Set(["get", "pttl"]);

/**
 * ioredis's `redisOptions` may not carry these; the Cluster sets them for its node connections itself.
 * (Its per-node offline queue only holds a command while that node connects, bounded by connectTimeout.)
 */
const NODE_OPTIONS_OWNED_BY_CLUSTER = ["lazyConnect", "enableOfflineQueue", "retryStrategy", "readOnly"] as const;

function nodeOptions(endpoint: RedisEndpoint, timeoutMs: number): NonNullable<ClusterOptions["redisOptions"]> {
  const options: Record<string, unknown> = { ...failFastOptions(timeoutMs) };
  for (const name of NODE_OPTIONS_OWNED_BY_CLUSTER) delete options[name];
  if (endpoint.username !== undefined) options.username = endpoint.username;
  if (endpoint.password !== undefined) options.password = endpoint.password;
  if (endpoint.tls !== undefined) options.tls = { ...endpoint.tls };
  return options as NonNullable<ClusterOptions["redisOptions"]>;
}

/**
 * Retry settings so that MOVED / failover / CLUSTERDOWN retries end within the deadline: a command the
 * store already rejected must not still be retried (and land) long after.
 */
function retryOptions(timeoutMs: number): Partial<ClusterOptions> {
  const delayMs = Math.max(10, Math.floor(timeoutMs / 10));
  return {
    retryDelayOnFailover: delayMs,
    retryDelayOnClusterDown: delayMs,
    retryDelayOnTryAgain: delayMs,
    // About timeoutMs of waiting in all, whatever mix of redirections and retries.
    maxRedirections: 8,
    slotsRefreshTimeout: timeoutMs,
  };
}

export function createClusterClient(seeds: RedisAddress[], endpoint: RedisEndpoint, readFrom: ReadFrom, dnsLookup: HighAvailabilityOptions["dnsLookup"]): Cluster {
  const timeoutMs = 1000; // replaced by applyClusterTimeout once the store says its deadline
  const options: ClusterOptions = {
    lazyConnect: true,
    // Fail at once when no node can take the command, instead of queueing it to run after the deadline.
    enableOfflineQueue: false,
    clusterRetryStrategy: (attempt: number) => Math.min(20 * 2 ** Math.min(attempt, 10), MAX_RECONNECT_DELAY_MS),
    // GET and PTTL of a session may go to a replica; every other command (GETEX, SET, scripts, the
    // per-user index) stays on the slot's master.
    scaleReads: readFrom === "primary" ? "master" : (nodes: Redis[], command: { name: string }) => (REPLICA_COMMANDS.has(command.name) && nodes.length > 1 ? nodes.slice(1) : nodes[0]),
    redisOptions: nodeOptions(endpoint, timeoutMs),
    // The client learns replicas and failovers from CLUSTER SLOTS, which ioredis otherwise re-reads only
    // after a MOVED; a replica that joined (or became able to serve) since would never get a read.
    slotsRefreshInterval: SLOTS_REFRESH_MS,
    ...retryOptions(timeoutMs),
  };
  if (dnsLookup !== undefined) options.dnsLookup = dnsLookup;
  return withErrorListener(new Cluster(seeds, options));
}

/** Applies the store's deadline to the cluster and to node connections it creates from now on. */
export function applyClusterTimeout(cluster: Cluster, endpoint: RedisEndpoint, timeoutMs: number): void {
  Object.assign(cluster.options, retryOptions(timeoutMs));
  cluster.options.redisOptions = nodeOptions(endpoint, timeoutMs);
}
