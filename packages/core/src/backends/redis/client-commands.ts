import { createHash } from "node:crypto";
import calculateSlot from "cluster-key-slot";
import type { Cluster, Redis } from "ioredis";
import { withErrorListener } from "./client.js";

/**
 * The seam between the Redis backend and a client library: every command the backend sends, as one
 * interface. `ioredisCommands` (here) and `nodeRedisCommands` (./node-redis-commands.ts) implement it;
 * everything else (deadlines, retries, topology, the store's logic) is written once against it.
 *
 * Replies are normalised here (strings, numbers, booleans), so RESP2 and RESP3 read the same.
 */
export interface RedisCommands {
  /** True for a Cluster client: keys live on several masters. */
  readonly isCluster: boolean;
  get(key: string): Promise<string | null>;
  /** GETEX key PX ttlMs (reads and slides the TTL); plain GETEX (a write command: the master answers) without ttlMs. */
  getex(key: string, ttlMs: number | undefined): Promise<string | null>;
  /** SET key value PX ttlMs [NX|XX]; false when the condition kept it from being written. */
  set(key: string, value: string, ttlMs: number, mode?: "NX" | "XX"): Promise<boolean>;
  /** PEXPIRE; false when the key does not exist. */
  pexpire(key: string, ttlMs: number): Promise<boolean>;
  /** UNLINK; in a Cluster one command per slot (a command over several slots fails with CROSSSLOT). */
  unlink(keys: readonly string[]): Promise<number>;
  /** One SCAN step function per node holding keys: the server, or every master of a Cluster. */
  scanners(): Promise<Scanner[]>;
  /** EVALSHA of a script on one key; EVAL when the server does not know it yet (NOSCRIPT). */
  evaluate(script: RedisScript, key: string, args: ReadonlyArray<string | number>): Promise<unknown>;
  zrem(key: string, members: readonly string[]): Promise<number>;
  ping(): Promise<void>;
  /**
   * GET + PTTL in one round trip (a replica read). `onReplica`: send them as read-only commands, for a
   * client that picks replicas for those itself (node-redis); an ioredis connection is already chosen.
   */
  getWithPttl(key: string, onReplica?: boolean): Promise<{ value: string | null; pttlMs: number }>;
  /** WAIT replicas timeoutMs on the connection that took the last write of `key` (its master in a Cluster). */
  wait(key: string, replicas: number, timeoutMs: number): Promise<number>;
  /** The master serving `key` right now (compared by identity), or undefined when unknown; Clusters only. */
  masterOf(key: string): unknown;
  /** PUBLISH (on a Cluster any node: the cluster bus forwards it). Absent where the client cannot; the backend then has no pub/sub. */
  publish?(channel: string, message: string): Promise<void>;
  /** A connection of its own for SUBSCRIBE, with this client's endpoint, credentials, TLS and topology. */
  subscriber?(): SubscriberConnection;
}

/** A dedicated subscriber connection (a subscribed connection can send nothing else). */
export interface SubscriberConnection {
  /** Called on every (re)connection; channels are not resubscribed by themselves. */
  onReady(listener: () => void): void;
  onMessage(listener: (channel: string, message: string) => void): void;
  readonly ready: boolean;
  subscribe(channels: readonly string[]): Promise<void>;
  unsubscribe(channels: readonly string[]): Promise<void>;
  close(): void;
}

export type Scanner = (cursor: string, pattern: string, count: number) => Promise<[string, string[]]>;

export interface RedisScript {
  readonly text: string;
  readonly sha: string;
}

export function redisScript(text: string): RedisScript {
  return { text, sha: createHash("sha1").update(text).digest("hex") };
}

/** A NOSCRIPT reply: the server does not have the script cached (restart, failover, new node). */
export function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith("NOSCRIPT");
}

/** Groups keys by Cluster slot, for multi-key commands. */
export function bySlot(keys: readonly string[]): string[][] {
  const groups = new Map<number, string[]>();
  for (const key of keys) {
    const slot = calculateSlot(key);
    const group = groups.get(slot);
    if (group === undefined) groups.set(slot, [key]);
    else group.push(key);
  }
  return [...groups.values()];
}

const cache = new WeakMap<object, RedisCommands>();

/** The commands over an ioredis client (a Cluster offers the same command methods as a single client). */
export function ioredisCommands(client: Redis | Cluster): RedisCommands {
  const known = cache.get(client);
  if (known !== undefined) return known;
  const isCluster = (client as { isCluster?: boolean }).isCluster === true;
  const redis = client as Redis;
  const scanner =
    (node: Redis): Scanner =>
    async (cursor, pattern, count) => {
      const [next, keys] = await node.scan(cursor, "MATCH", pattern, "COUNT", count);
      return [String(next), keys];
    };
  const commands: RedisCommands = {
    isCluster,
    get: (key) => redis.get(key),
    getex: (key, ttlMs) => (ttlMs === undefined ? redis.getex(key) : redis.getex(key, "PX", ttlMs)),
    set: async (key, value, ttlMs, mode) => {
      const reply = mode === undefined ? await redis.set(key, value, "PX", ttlMs) : mode === "NX" ? await redis.set(key, value, "PX", ttlMs, "NX") : await redis.set(key, value, "PX", ttlMs, "XX");
      return reply !== null;
    },
    pexpire: async (key, ttlMs) => (await redis.pexpire(key, ttlMs)) === 1,
    unlink: async (keys) => {
      if (!isCluster) return redis.unlink(...keys);
      const counts = await Promise.all(bySlot(keys).map((group) => redis.unlink(...group)));
      return counts.reduce((sum, count) => sum + count, 0);
    },
    scanners: async () => (isCluster ? (client as Cluster).nodes("master").map(scanner) : [scanner(redis)]),
    evaluate: (script, key, args) =>
      // `then`, not an async function: one frame less per write.
      redis.evalsha(script.sha, 1, key, ...args).then(undefined, (error: unknown) => {
        if (!isNoScript(error)) throw error;
        return redis.eval(script.text, 1, key, ...args);
      }),
    zrem: (key, members) => redis.zrem(key, ...members),
    ping: async () => {
      await redis.ping();
    },
    getWithPttl: async (key) => {
      const replies = (await redis.pipeline().get(key).pttl(key).exec()) ?? [];
      const [getReply, ttlReply] = replies;
      const failure = getReply?.[0] ?? ttlReply?.[0];
      if (failure) throw failure;
      return { value: (getReply?.[1] as string | null) ?? null, pttlMs: Number(ttlReply?.[1] ?? -2) };
    },
    wait: async (key, replicas, timeoutMs) => {
      const node = isCluster ? ioredisMasterFor(client as Cluster, key) : redis;
      if (node === undefined) return 0;
      return Number(await node.wait(replicas, timeoutMs));
    },
    masterOf: (key) => (isCluster ? ioredisMasterFor(client as Cluster, key) : undefined),
    publish: async (channel, message) => {
      await redis.publish(channel, message);
    },
    subscriber: () => ioredisSubscriber(client),
  };
  cache.set(client, commands);
  return commands;
}

/** The connection to the master that serves `key` right now, if known. */
export function ioredisMasterFor(cluster: Cluster, key: string): Redis | undefined {
  const nodeKey = cluster.slots[calculateSlot(key)]?.[0];
  if (nodeKey === undefined) return undefined;
  return cluster.nodes("master").find((node) => `${node.options.host}:${node.options.port}` === nodeKey);
}

/** A duplicate of the client (same settings) for SUBSCRIBE; we resubscribe on 'ready' ourselves, so the caller learns of every reconnect. */
function ioredisSubscriber(client: Redis | Cluster): SubscriberConnection {
  // Connection trouble surfaces through the main connection's events; the listener keeps ioredis quiet.
  const duplicate = withErrorListener((client as Redis).duplicate() as Redis);
  duplicate.options.autoResubscribe = false;
  if (duplicate.status === "wait") duplicate.connect().catch(() => undefined);
  return {
    onReady: (listener) => void duplicate.on("ready", listener),
    onMessage: (listener) => void duplicate.on("message", listener),
    get ready() {
      return duplicate.status === "ready";
    },
    subscribe: async (channels) => {
      await duplicate.subscribe(...channels);
    },
    unsubscribe: async (channels) => {
      await duplicate.unsubscribe(...channels);
    },
    close: () => duplicate.disconnect(),
  };
}
