import { RedisConnection } from "./connection.js";
import type { NodeRedisClient, NodeRedisKind } from "./node-redis.js";
import { nodeRedisCommands } from "./node-redis-commands.js";
import { NodeRedisLifecycle } from "./node-redis-lifecycle.js";

/** A connection over a caller's node-redis client, cluster or sentinel (never connected or closed by us). */
export function nodeRedisConnection(client: NodeRedisClient, kind: NodeRedisKind, label: string): RedisConnection {
  const lifecycle = new NodeRedisLifecycle(client, kind);
  return new RedisConnection(lifecycle, false, label, lifecycle.options?.username, nodeRedisCommands(lifecycle, label));
}
