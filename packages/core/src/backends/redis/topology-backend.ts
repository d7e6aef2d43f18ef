import type { Cluster, Redis } from "ioredis";
import type { Backend, CommandObserver } from "../../backend.js";
import { SessionStoreError, configError } from "../../errors.js";
import { createClient } from "./client.js";
import { applyClusterTimeout, createClusterClient } from "./cluster.js";
import * as commands from "./commands.js";
import { RedisConnection } from "./connection.js";
import { endpointLabel, resolveRedisOptions, type RedisBackendOptions, type RedisEndpoint, type ResolvedRedisOptions } from "./options.js";
import { redisHealth } from "./health.js";
import { createReadRouter, type ReadRoutes, type ReplicaRead } from "./readers.js";
import { nodeRedisConnection } from "./node-redis-connection.js";
import { createSentinelClient } from "./sentinel.js";
import { hostPort } from "../host-port.js";
import { assertWaitFitsDeadline, replicaTouchAfter, type ResolvedHighAvailability } from "./topology.js";

/**
 * Connections for the configured topology: the primary (standalone, Sentinel master or the Cluster)
 * and, for replica reads outside a Cluster, the reader connections.
 */
export interface TopologyConnections {
  label: string;
  primary: RedisConnection;
  readers: RedisConnection[];
  /** The primary's client sends GET/PTTL to replicas itself (ioredis Cluster scaleReads, node-redis useReplicas / replicaPoolSize). */
  replicasInClient: boolean;
  configure(timeoutMs: number): void;
}

export function connectTopology(resolved: ResolvedRedisOptions, ha: ResolvedHighAvailability, options: RedisBackendOptions): TopologyConnections {
  if (resolved.kind === "client" || resolved.kind === "node-redis") {
    // A node-redis Cluster or Sentinel client reads replicas itself (readFrom was checked in topology.ts).
    const replicasInClient = resolved.kind === "node-redis" && ha.readFrom !== "primary";
    if (ha.topology.kind !== "standalone" || ha.topology.readers.length > 0 || (ha.readFrom !== "primary" && !replicasInClient)) {
      throw configError("client", "used without readers, sentinels, cluster and readFrom (configure your own client's Sentinel, Cluster or scaleReads settings instead)");
    }
    if (replicasInClient && resolved.nodeRedis === "cluster" && (resolved.client as { _options?: { useReplicas?: unknown } })._options?.useReplicas !== true) {
      throw configError("readFrom", `"primary" with a node-redis Cluster made without useReplicas: true (it sends every command to the masters)`, ha.readFrom);
    }
    const primary = resolved.kind === "client" ? new RedisConnection(resolved.client, false, resolved.label, undefined) : nodeRedisConnection(resolved.client, resolved.nodeRedis, resolved.label);
    return { label: resolved.label, primary, readers: [], replicasInClient, configure: (timeoutMs) => primary.configure(timeoutMs) };
  }
  const { endpoint } = resolved;
  const { topology } = ha;
  switch (topology.kind) {
    case "standalone": {
      const primary = new RedisConnection(createClient(endpoint, 1000), true, resolved.label, endpoint.username);
      const readers = topology.readers.map((url) => {
        const reader = readerEndpoint(url, endpoint);
        return asReplica(new RedisConnection(createClient(reader, 1000), true, `${endpointLabel(reader)} (reader)`, reader.username));
      });
      return {
        label: resolved.label,
        primary,
        readers,
        replicasInClient: false,
        configure(timeoutMs) {
          for (const connection of [primary, ...readers]) connection.configure(timeoutMs);
        },
      };
    }
    case "sentinel": {
      const label = `redis sentinel "${topology.name}"`;
      const sentinelClient = (role: "master" | "slave") => createSentinelClient(topology.sentinels, topology.name, role, endpoint, options);
      const primary = new RedisConnection(sentinelClient("master"), true, `${label} master`, endpoint.username);
      const readers = ha.readFrom === "primary" ? [] : [asReplica(new RedisConnection(sentinelClient("slave"), true, `${label} replica`, endpoint.username))];
      return {
        label,
        primary,
        readers,
        replicasInClient: false,
        configure(timeoutMs) {
          for (const connection of [primary, ...readers]) {
            (connection.client as Redis).options.sentinelCommandTimeout = timeoutMs;
            connection.configure(timeoutMs);
          }
        },
      };
    }
    case "cluster": {
      if (endpoint.db !== 0) throw configError("db", "0 with cluster (Redis Cluster has only database 0)", endpoint.db);
      const seeds = topology.seeds === "url" ? [{ host: endpoint.host, port: endpoint.port }] : topology.seeds;
      const first = seeds[0] as { host: string; port: number };
      const label = `redis cluster ${endpointLabel({ ...first, db: 0 }).slice("redis ".length)}`;
      const cluster = createClusterClient(seeds, endpoint, ha.readFrom, options.dnsLookup);
      const primary = new RedisConnection(cluster, true, label, endpoint.username);
      return {
        label,
        primary,
        readers: [],
        replicasInClient: true,
        configure(timeoutMs) {
          applyClusterTimeout(cluster, endpoint, timeoutMs);
          primary.configure(timeoutMs);
        },
      };
    }
  }
}

function asReplica(connection: RedisConnection): RedisConnection {
  connection.role = "replica";
  return connection;
}

/** `host:port` of a Cluster master as `masterOf` gives it (an ioredis node, or node-redis's address). */
function masterAddress(master: unknown): string | undefined {
  if (typeof master === "string") return master;
  const options = (master as { options?: { host?: string; port?: number } } | undefined)?.options;
  return options?.host !== undefined && options.port !== undefined ? hostPort(options.host, options.port) : undefined;
}

/** A reader URL inherits the primary's credentials, TLS settings and db unless it names its own. */
function readerEndpoint(url: string, primary: RedisEndpoint): RedisEndpoint {
  let parsed: ResolvedRedisOptions;
  try {
    parsed = resolveRedisOptions({ url });
  } catch {
    // Name the option the user wrote; never echo the URL (it may carry a password).
    throw configError("readers", "a list of URLs such as rediss://reader.example:6379 or redis://:password@host:6379/0");
  }
  if (parsed.kind !== "endpoint") throw configError("readers", "a list of redis:// or rediss:// URLs");
  const own = parsed.endpoint;
  return {
    ...own,
    username: own.username ?? primary.username,
    password: own.password ?? primary.password,
    tls: own.tls === undefined ? primary.tls : { ...primary.tls, ...own.tls },
    db: /\/\d+\/?$/.test(url) ? own.db : primary.db,
  };
}

/**
 * Wraps the base backend for the topology: replica reads with read-your-writes, WAIT after writes,
 * and Cluster-wide listing and deleting. Everything else is the base backend unchanged.
 */
export function withTopology(base: Backend, connections: TopologyConnections, ha: ResolvedHighAvailability): Backend {
  const { primary, readers } = connections;
  const cluster = primary.commands.isCluster;
  const health = () => redisHealth(primary, readers, cluster ? (primary.client as unknown as Cluster) : undefined, primary.timeoutMs);
  if (ha.readFrom === "primary" && ha.waitForReplicas === undefined && !cluster && readers.length === 0) {
    // One primary, nothing to route or wait for: the base backend as it is, not one call more per operation.
    return { ...base, label: connections.label, configure: ({ timeoutMs }) => connections.configure(timeoutMs), health };
  }
  const label = connections.label;
  let next = 0;

  const readerFor = (): RedisConnection => {
    // Rotate over the readers, preferring connected ones; with none connected, replica-preferred
    // answers from the primary at once rather than waiting for a reader to come back.
    for (let i = 0; i < readers.length; i++) {
      const reader = readers[(next + i) % readers.length] as RedisConnection;
      if (reader.client.status === "ready") {
        next = (next + i + 1) % readers.length;
        return reader;
      }
    }
    if (ha.readFrom === "replica-preferred") throw new SessionStoreError("UNAVAILABLE", `${label}: no replica connected`, { backend: label });
    next = (next + 1) % readers.length;
    return readers[next] as RedisConnection;
  };

  const replicaRead = (connection: RedisConnection, key: string, observer: CommandObserver | undefined): Promise<ReplicaRead> =>
    connection.run("get", (client) => client.getWithPttl(key, true), observer);

  // For a traced operation's `node`: in a Cluster the connection cannot tell which node a command went
  // to, the key's slot can (its master; a replica chosen by scaleReads stays unnamed).
  const noteMaster = <T>(key: string, observer: CommandObserver, result: T): T => {
    const address = masterAddress(primary.commands.masterOf(key));
    observer.node = address === undefined ? { role: "primary" } : { role: "primary", address };
    return result;
  };
  const settledOn = <T>(key: string, observer: CommandObserver | undefined, operation: Promise<T>): Promise<T> =>
    !cluster || observer === undefined
      ? operation
      : operation.then(
          (result) => noteMaster(key, observer, result),
          (error: unknown) => Promise.reject(noteMaster(key, observer, error)),
        );

  const routes: ReadRoutes = {
    // In an ioredis Cluster, GET and PTTL are routed to a replica of the key's slot by scaleReads
    // (cluster.ts); a node-redis Cluster or Sentinel client picks the node of read-only commands itself.
    replica: async (key, observer) => {
      if (!connections.replicasInClient) return replicaRead(readerFor(), key, observer);
      const read = await replicaRead(primary, key, observer);
      if (observer !== undefined) observer.node = { role: "replica" };
      return read;
    },
    primary: (key, refreshTtlMs, observer) =>
      !cluster
        ? commands.get(primary, key, refreshTtlMs === undefined ? undefined : { refreshTtlMs }, observer)
        : // GETEX is a write command, so the Cluster sends it to the slot's master even with replica reads.
          settledOn(key, observer, primary.run("get", (client) => client.getex(key, refreshTtlMs))),
    expire: (key, ttlMs, observer) => settledOn(key, observer, primary.run("touch", (client) => client.pexpire(key, ttlMs), observer)),
  };
  const router = createReadRouter(ha.readFrom, routes, (ttlMs) => replicaTouchAfter(ha, ttlMs));

  // Counts reconnects of the primary, so WAIT is trusted only on the connection that wrote.
  let primaryReadies = 0;
  primary.client.on("ready", () => primaryReadies++);

  const waitForReplicas = async (key: string, write: () => Promise<boolean>): Promise<void> => {
    const wait = ha.waitForReplicas;
    const node = !cluster || wait === undefined ? undefined : await masterBeforeWrite(key);
    const wrote = await write();
    if (wait === undefined || !wrote) return;
    const readiesAfterWrite = primaryReadies;
    if (cluster) {
      const target = primary.commands.masterOf(key);
      if (target === undefined || target !== node) throw unconfirmed(0, "the key's master changed during the write");
    }
    const acks = await primary.run("wait", (client) => client.wait(key, wait.replicas, wait.timeoutMs));
    // WAIT on a new connection would count acknowledgements of nothing: a reconnect voids the answer.
    if (primaryReadies !== readiesAfterWrite) throw unconfirmed(0, "the connection was re-established before WAIT");
    if (acks < wait.replicas) throw unconfirmed(acks, `only ${acks} of ${wait.replicas} replicas acknowledged it within ${wait.timeoutMs} ms`);
  };

  // The master that will take the write, so a failover between the write and WAIT is noticed. A fresh
  // Cluster client has no slot map until it is ready: wait for it (as the write itself would), or every
  // new store's first write would compare "unknown" with the real master and blame a failover.
  const masterBeforeWrite = async (key: string): Promise<unknown> => {
    if (primary.commands.masterOf(key) === undefined) await primary.run("set", async () => undefined);
    return primary.commands.masterOf(key);
  };

  const unconfirmed = (acks: number, why: string): SessionStoreError =>
    new SessionStoreError("UNAVAILABLE", `${label}: the write reached the primary but ${why} (waitForReplicas); it may be lost in a failover or unseen on a lagging replica — retry, or check the replicas`, {
      backend: label,
      cause: { acknowledged: acks },
    });

  /** A write with read-your-writes pinning and, when configured, WAIT for replicas (see waitForReplicas). */
  const confirmedSet: Backend["set"] = async (key, value, ttlMs, condition, observer) => {
    let result: Awaited<ReturnType<Backend["set"]>> = "ok";
    try {
      await waitForReplicas(key, async () => (result = await settledOn(key, observer, base.set(key, value, ttlMs, condition, observer))) === "ok");
    } finally {
      router.wrote(key);
    }
    return result;
  };

  const confirmedTouch: Backend["touch"] = async (key, ttlMs, observer) => {
    try {
      return await settledOn(key, observer, base.touch(key, ttlMs, observer));
    } finally {
      router.wrote(key);
    }
  };

  /** Plain writes: reads go to the primary (nothing to pin for read-your-writes) and no WAIT is configured. */
  const plainWrites = ha.waitForReplicas === undefined && ha.readFrom === "primary";

  return {
    ...base,
    label,
    health,
    configure({ timeoutMs }) {
      assertWaitFitsDeadline(ha.waitForReplicas, timeoutMs);
      connections.configure(timeoutMs);
      router.setTimeoutMs(timeoutMs);
    },
    get: (key, options, observer) => (ha.readFrom === "primary" ? settledOn(key, observer, base.get(key, options, observer)) : router.get(key, options, observer)),
    set(key, value, ttlMs, condition, observer) {
      // Reads from the primary and no WAIT: nothing to pin or confirm, so no async frame per write.
      if (plainWrites) return settledOn(key, observer, base.set(key, value, ttlMs, condition, observer));
      return confirmedSet(key, value, ttlMs, condition, observer);
    },
    touch(key, ttlMs, observer) {
      if (plainWrites) return settledOn(key, observer, base.touch(key, ttlMs, observer));
      return confirmedTouch(key, ttlMs, observer);
    },
    async delete(keys, observer) {
      let count = 0;
      // One key (a destroy) has one master to name; a clear() batch spans several.
      const remove = () => (keys.length === 1 ? settledOn(keys[0] as string, observer, base.delete(keys, observer)) : base.delete(keys, observer));
      try {
        // One WAIT covers every key written on one connection; in a Cluster, keys on several masters
        // (a clear() batch) are deleted without it.
        if (ha.waitForReplicas === undefined || (cluster && keys.length !== 1) || keys.length === 0) count = await remove();
        else await waitForReplicas(keys[0] as string, async () => (count = await remove()) >= 0);
      } finally {
        for (const key of keys) router.wrote(key);
      }
      return count;
    },
    async close() {
      await Promise.all([base.close(), ...readers.map((reader) => reader.close())]);
    },
    on(event, listener) {
      const offs = [base.on(event, listener)];
      // A reader going down is worth logging, but it is no outage of the store: the primary still answers.
      if (event === "error") for (const reader of readers) offs.push(reader.events.on("unavailable", listener as (error: Error) => void));
      return () => {
        for (const off of offs) off();
      };
    },
  };
}
