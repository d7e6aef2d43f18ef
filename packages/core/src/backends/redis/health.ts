import { performance } from "node:perf_hooks";
import type { Cluster, Redis } from "ioredis";
import type { NodeHealth } from "../../backend.js";
import type { RedisConnection } from "./connection.js";

/**
 * `health()` for the Redis topologies: a PING per connection (primary, each reader) or, in a Cluster,
 * per known node, each under the store's deadline; for replicas that serve reads, their replication lag
 * from INFO (best effort: a user without INFO, as some ElastiCache RBAC users are, gets no lag).
 */
export async function redisHealth(primary: RedisConnection, readers: readonly RedisConnection[], cluster: Cluster | undefined, timeoutMs: number): Promise<NodeHealth[]> {
  if (cluster !== undefined) return clusterHealth(cluster, timeoutMs);
  const [primaryHealth, ...readerHealth] = await Promise.all([probe(primary, "primary"), ...readers.map((reader) => probe(reader, "replica"))]);
  const result = [primaryHealth as NodeHealth, ...readerHealth];
  if (readers.length === 0 || !primaryHealth?.reachable) return result;
  const primaryOffset = await replicationOffset(primary, "master_repl_offset");
  if (primaryOffset === undefined) return result;
  await Promise.all(
    readers.map(async (reader, i) => {
      const health = readerHealth[i] as NodeHealth;
      if (!health.reachable) return;
      const offset = await replicationOffset(reader, "slave_repl_offset");
      if (offset !== undefined) health.replicationLagBytes = Math.max(0, primaryOffset - offset);
    }),
  );
  return result;
}

async function probe(connection: RedisConnection, role: NodeHealth["role"]): Promise<NodeHealth> {
  const started = performance.now();
  try {
    await connection.run("ping", (client) => client.ping());
    return { node: addressOf(connection), role, reachable: true, latencyMs: elapsed(started) };
  } catch (error) {
    return { node: addressOf(connection), role, reachable: false, lastError: messageOf(error) };
  }
}

/** An offset from INFO replication on this connection, or undefined when INFO is refused or absent. */
async function replicationOffset(connection: RedisConnection, field: string): Promise<number | undefined> {
  const client = connection.client as unknown as { info?: (section: string) => Promise<string> };
  if (typeof client.info !== "function") return undefined;
  try {
    const text = await connection.run("info", () => (client.info as (section: string) => Promise<string>)("replication"));
    const match = new RegExp(`^${field}:(\\d+)`, "m").exec(text);
    return match === null ? undefined : Number(match[1]);
  } catch {
    return undefined;
  }
}

async function clusterHealth(cluster: Cluster, timeoutMs: number): Promise<NodeHealth[]> {
  const masters = new Set(cluster.nodes("master"));
  return Promise.all(
    cluster.nodes("all").map(async (node: Redis): Promise<NodeHealth> => {
      const name = `${node.options.host ?? "?"}:${node.options.port ?? "?"}`;
      const role = masters.has(node) ? "primary" : "replica";
      const started = performance.now();
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          node.ping(),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
          }),
        ]);
        return { node: name, role, reachable: true, latencyMs: elapsed(started) };
      } catch (error) {
        return { node: name, role, reachable: false, lastError: messageOf(error) };
      } finally {
        clearTimeout(timer);
      }
    }),
  );
}

/** The address the connection talks to (see RedisConnection.address), else what its label says. */
function addressOf(connection: RedisConnection): string {
  return connection.address() ?? connection.label.replace(/^redis /, "").replace(/ \(reader\)$/, "");
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 100) / 100;
}

/** Messages of SessionStoreErrors name no credential; ioredis's own (Cluster nodes) neither. */
function messageOf(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).replace(/^sessionbridge: /, "");
}
