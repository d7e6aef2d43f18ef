import calculateSlot from "cluster-key-slot";
import { SessionStoreError } from "../../errors.js";
import { bySlot, isNoScript, type RedisCommands, type Scanner } from "./client-commands.js";
import { HangWatch } from "./hang-watch.js";
import type { NodeRedisLifecycle } from "./node-redis-lifecycle.js";
import { nodeRedisSubscriber } from "./node-redis-pubsub.js";

/**
 * The backend's commands over a node-redis client, cluster or sentinel, as raw `sendCommand` calls:
 * the same on node-redis 5 and 6, in RESP2 and RESP3, whatever modules or type mappings the caller's
 * client was made with. Every command goes to the master (`isReadonly` false): a client made with
 * replica reads (cluster `useReplicas`, sentinel `replicaPoolSize`) would otherwise read sessions from
 * a replica without read-your-writes.
 *
 * Deadlines: the store bounds every operation; here a hung connection (no answer for a whole deadline
 * while commands wait) gets no further commands, and in a Cluster a master that is down or hung fails
 * the commands for its slots at once instead of queueing them in node-redis's offline queue.
 */

interface ClusterNode {
  address: string;
  client?: { isReady?: boolean; sendCommand(args: string[]): Promise<unknown> };
}

interface NodeRedisCluster {
  masters: ClusterNode[];
  getSlotMaster(slot: number): ClusterNode | undefined;
  /** The next node (master or replica) of the slot's shard in node-redis's rotation for read-only commands. */
  getSlotRandomNode(slot: number): ClusterNode;
  nodeClient(node: ClusterNode): Promise<{ sendCommand(args: string[]): Promise<unknown> }>;
  sendCommand(firstKey: string | undefined, isReadonly: boolean, args: string[]): Promise<unknown>;
}

export function nodeRedisCommands(lifecycle: NodeRedisLifecycle, label: string): RedisCommands {
  const { client, kind } = lifecycle;
  const cluster = kind === "cluster" ? (client as unknown as NodeRedisCluster) : undefined;
  const nodeWatches = new Map<string, HangWatch>();

  /** The master of `key`'s slot, checked: a master that is down or hung fails at once. */
  const clusterMaster = (key: string): ClusterNode | undefined => {
    const master = (cluster as NodeRedisCluster).getSlotMaster(calculateSlot(key));
    if (master === undefined) return undefined;
    if (master.client !== undefined && master.client.isReady === false) {
      throw new SessionStoreError("UNAVAILABLE", `${label}: the master for this key (${master.address}) is not connected — is it running? node-redis keeps reconnecting, and a failover moves the slots`, { backend: label });
    }
    if (watchFor(master.address).hung) {
      throw new SessionStoreError("UNAVAILABLE", `${label}: the master for this key (${master.address}) has not answered within the deadline (hung or overloaded); nothing more is sent there until it answers`, { backend: label });
    }
    return master;
  };

  const watchFor = (address: string): HangWatch => {
    let watch = nodeWatches.get(address);
    if (watch === undefined) {
      watch = new HangWatch(lifecycle.timeoutMs, () => undefined);
      nodeWatches.set(address, watch);
    }
    return watch;
  };
  lifecycle.onTimeoutMs((timeoutMs) => {
    for (const watch of nodeWatches.values()) watch.setTimeoutMs(timeoutMs);
  });

  /**
   * One command on the master that holds `key` (any master when key is undefined). A `readOnly` one (not
   * in a Cluster: see getWithPttl) goes to the replica pool of a Sentinel made with replicaPoolSize; the
   * read router bounds it and falls back to the master, so it is not counted against the master's hang watch.
   */
  const send = (key: string | undefined, args: string[], readOnly = false): Promise<unknown> => {
    if (readOnly && key !== undefined) return kind === "sentinel" ? client.sendCommand(true, args) : lifecycle.watch.track(client.sendCommand(args));
    if (cluster !== undefined) {
      if (key === undefined) return lifecycle.watch.track(cluster.sendCommand(undefined, false, args));
      const master = clusterMaster(key);
      const reply = cluster.sendCommand(key, false, args);
      return master === undefined ? reply : watchFor(master.address).track(reply);
    }
    if (kind === "sentinel") return lifecycle.watch.track(client.sendCommand(false, args));
    return lifecycle.watch.track(client.sendCommand(args));
  };

  const str = (reply: unknown): string | null => (reply === null || reply === undefined ? null : String(reply));

  const scanner =
    (sendOn: (args: string[]) => Promise<unknown>): Scanner =>
    async (cursor, pattern, count) => {
      const reply = (await sendOn(["SCAN", cursor, "MATCH", pattern, "COUNT", String(count)])) as [unknown, unknown[]];
      return [String(reply[0]), (reply[1] ?? []).map(String)];
    };

  return {
    isCluster: cluster !== undefined,
    // `then`, not async functions, on the per-request commands: one frame less per command.
    get: (key) => send(key, ["GET", key]).then(str),
    getex: (key, ttlMs) => send(key, ttlMs === undefined ? ["GETEX", key] : ["GETEX", key, "PX", String(ttlMs)]).then(str),
    set: async (key, value, ttlMs, mode) => {
      const args = ["SET", key, value, "PX", String(ttlMs)];
      if (mode !== undefined) args.push(mode);
      return (await send(key, args)) !== null;
    },
    pexpire: async (key, ttlMs) => Number(await send(key, ["PEXPIRE", key, String(ttlMs)])) === 1,
    unlink: async (keys) => {
      const groups = cluster === undefined ? [keys as string[]] : bySlot(keys);
      const counts = await Promise.all(groups.map((group) => send(group[0], ["UNLINK", ...group])));
      return counts.reduce<number>((sum, count) => sum + Number(count), 0);
    },
    scanners: async () => {
      if (cluster === undefined) return [scanner((args) => send(undefined, args))];
      return Promise.all(
        cluster.masters.map(async (master) => {
          const node = await cluster.nodeClient(master);
          return scanner((args) => watchFor(master.address).track(node.sendCommand(args)));
        }),
      );
    },
    evaluate: (script, key, args) => {
      // One argument array per write (a rest array, a mapped one and the command were three); the rare
      // EVAL after NOSCRIPT builds its own.
      const argv = ["EVALSHA", script.sha, "1", key];
      for (const arg of args) argv.push(String(arg));
      return send(key, argv).then(undefined, (error: unknown) => {
        if (!isNoScript(error)) throw error;
        return send(key, ["EVAL", script.text, ...argv.slice(2)]);
      });
    },
    zrem: async (key, members) => Number(await send(key, ["ZREM", key, ...members])),
    ping: async () => {
      await send(undefined, ["PING"]);
    },
    getWithPttl: async (key, onReplica) => {
      let value: unknown, pttl: unknown;
      if (onReplica && cluster !== undefined) {
        // One node of the key's shard answers both. node-redis rotates read-only commands over a shard's
        // master and replicas one command at a time, so GET and PTTL sent apart would alternate: with one
        // replica every GET of that shard landed on the same node, the master half the time. A replica
        // that answers MOVED (a failover moved the slot) fails this read, and the router asks the master.
        const node = await cluster.nodeClient(cluster.getSlotRandomNode(calculateSlot(key)));
        [value, pttl] = await Promise.all([node.sendCommand(["GET", key]), node.sendCommand(["PTTL", key])]);
      } else {
        [value, pttl] = await Promise.all([send(key, ["GET", key], onReplica), send(key, ["PTTL", key], onReplica)]);
      }
      return { value: str(value), pttlMs: Number(pttl) };
    },
    wait: async (key, replicas, timeoutMs) => Number(await send(key, ["WAIT", String(replicas), String(timeoutMs)])),
    masterOf: (key) => (cluster === undefined ? undefined : cluster.getSlotMaster(calculateSlot(key))?.address),
    publish: async (channel, message) => {
      await send(undefined, ["PUBLISH", channel, message]);
    },
    subscriber: () => nodeRedisSubscriber(client, kind),
  };
}
