import type { CommandObserver, GetOptions, SetCondition, SetResult } from "../../backend.js";
import { compareAndSet } from "./compare-and-set.js";
import type { RedisConnection } from "./connection.js";

/** Keys per SCAN step: large enough for few round trips, small enough to keep each step short. */
const SCAN_COUNT = 1000;

/**
 * The Backend operations as Redis commands, one round trip each. Every command goes through
 * `connection.run`, which owns readiness, the deadline and error mapping (and tells a traced
 * operation's `observer` the server it went to).
 */
export function get(connection: RedisConnection, key: string, options?: GetOptions, observer?: CommandObserver): Promise<string | null> {
  const ttlMs = options?.refreshTtlMs;
  // GETEX reads and slides the TTL in one round trip (Redis 6.2+). It is a write command, so it always
  // runs on the primary.
  if (ttlMs !== undefined) return connection.run("get", (client) => client.getex(key, ttlMs), observer);
  return connection.run("get", (client) => client.get(key), observer);
}

export function set(connection: RedisConnection, key: string, value: string, ttlMs: number, condition: SetCondition = { kind: "always" }, observer?: CommandObserver): Promise<SetResult> {
  switch (condition.kind) {
    case "always":
      return connection.run(
        "set",
        async (client) => {
          await client.set(key, value, ttlMs);
          return "ok" as const;
        },
        observer,
      );
    case "absent":
      return connection.run("set", async (client) => ((await client.set(key, value, ttlMs, "NX")) ? "ok" : "exists"), observer);
    case "exists":
      return connection.run("set", async (client) => ((await client.set(key, value, ttlMs, "XX")) ? "ok" : "missing"), observer);
    case "version":
      return connection.run("set", (client) => compareAndSet(client, key, condition.prefix, value, ttlMs), observer);
  }
}

export function touch(connection: RedisConnection, key: string, ttlMs: number, observer?: CommandObserver): Promise<boolean> {
  return connection.run("touch", (client) => client.pexpire(key, ttlMs), observer);
}

export function remove(connection: RedisConnection, keys: readonly string[], observer?: CommandObserver): Promise<number> {
  if (keys.length === 0) return Promise.resolve(0);
  // UNLINK frees the memory in the background, so deleting a large session never blocks the server.
  return connection.run("delete", (client) => client.unlink(keys), observer);
}

/**
 * SCAN MATCH over the prefix, never KEYS (which blocks the server) and never FLUSHDB. In a Cluster every
 * master is scanned (a SCAN sent to the cluster would only see one node).
 */
export async function* scan(connection: RedisConnection, prefix: string): AsyncIterable<string[]> {
  const pattern = `${escapeGlob(prefix)}*`;
  // Asked on a ready connection, so a Cluster's slot map (which masters exist) is loaded.
  const scanners = await connection.run("scan", (client) => client.scanners());
  for (const step of scanners) {
    let cursor = "0";
    do {
      const [next, keys] = await connection.run("scan", () => step(cursor, pattern, SCAN_COUNT));
      cursor = next;
      // SCAN may return an empty page while the cursor is not done; only yield what we got.
      const mine = keys.filter((key) => key.startsWith(prefix));
      if (mine.length > 0) yield mine;
    } while (cursor !== "0");
  }
}

/** PTTL (with the value, one round trip: the seam's replica read): -2 means no such key, -1 no expiry. Never changes the TTL. */
export function remainingTtl(connection: RedisConnection, key: string): Promise<number | null> {
  return connection.run("ttl", async (client) => {
    const { pttlMs } = await client.getWithPttl(key);
    return pttlMs === -2 ? null : pttlMs === -1 ? Number.POSITIVE_INFINITY : pttlMs;
  });
}

export function ping(connection: RedisConnection): Promise<void> {
  return connection.run("ping", (client) => client.ping());
}

/** Escapes Redis glob characters so a prefix such as `app[1]:` matches itself only. */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\^]/g, "\\$&");
}
