import type { Backend, SubscriptionListener } from "../../backend.js";
import * as commands from "./commands.js";
import { createSubscriber, hasPubSub, publish } from "./pubsub.js";
import { resolveRedisOptions, type RedisBackendOptions } from "./options.js";
import { connectTopology, withTopology } from "./topology-backend.js";
import { HIGH_AVAILABILITY_OPTIONS, resolveHighAvailability } from "./topology.js";
import * as userIndex from "./user-index.js";

export type { RedisBackendOptions, RedisTlsOptions } from "./options.js";
export type { NodeRedisClient } from "./node-redis.js";
export type { HighAvailabilityOptions, ReadFrom, RedisAddress, WaitForReplicas } from "./topology.js";

/**
 * Redis / Valkey (6.2+) backend over ioredis: a standalone server or an ElastiCache primary endpoint,
 * with AUTH, ACL users, TLS and db selection, or an ioredis client you pass in.
 *
 * Every operation is one round trip and finishes within the store's `timeoutMs`: commands go out only
 * on a ready connection and are never queued to run late; the client reconnects by itself.
 */
export function redisBackend(options: RedisBackendOptions): Backend {
  const resolved = resolveRedisOptions(options, HIGH_AVAILABILITY_OPTIONS);
  // Replicas, Sentinel and Cluster (topology*.ts): which connections exist, and how reads and writes use them.
  const ha = resolveHighAvailability(options, resolved.kind === "node-redis" && resolved.nodeRedis !== "client");
  const topology = connectTopology(resolved, ha, options);
  const connection = topology.primary;
  const subscriber = createSubscriber(connection);
  const pubsub = hasPubSub(connection);

  return withTopology({
    label: topology.label,
    capabilities: { scan: true, compareAndSet: true, userIndex: true, pubsub },
    configure: ({ timeoutMs }) => connection.configure(timeoutMs),
    get: (key, getOptions, observer) => commands.get(connection, key, getOptions, observer),
    set: (key, value, ttlMs, condition, observer) => commands.set(connection, key, value, ttlMs, condition, observer),
    touch: (key, ttlMs, observer) => commands.touch(connection, key, ttlMs, observer),
    delete: (keys, observer) => commands.remove(connection, keys, observer),
    scan: (prefix) => commands.scan(connection, prefix),
    ping: () => commands.ping(connection),
    remainingTtl: (key) => commands.remainingTtl(connection, key),
    close: () => {
      subscriber.close();
      return connection.close();
    },
    on: (event, listener) => connection.events.on(event, listener),
    ...(pubsub
      ? {
          publish: (channel: string, message: string) => publish(connection, channel, message),
          subscribe: (channel: string, listener: SubscriptionListener) => subscriber.subscribe(channel, listener),
        }
      : {}),
    // The per-user index: one sorted set per user (see ./user-index.ts).
    indexAdd: (indexKey, members, keyTtlMs) => userIndex.indexAdd(connection, indexKey, members, keyTtlMs),
    indexList: (indexKey, nowMs) => userIndex.indexList(connection, indexKey, nowMs),
    indexRemove: (indexKey, members) => userIndex.indexRemove(connection, indexKey, members),
  }, topology, ha);
}
