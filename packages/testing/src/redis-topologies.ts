import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Redis } from "ioredis";
import { launchOnFreePort, launchOnPort, type PortLaunchOptions } from "./own-port.js";
import { startProcess, tempDir, type ManagedProcess } from "./process.js";
import { eventually } from "./wait.js";

/**
 * Real Redis topologies on loopback for the high-availability tests: a primary with replicas, the same
 * watched by Sentinel, and a Redis Cluster of masters with replicas — plain or TLS. Every process runs
 * on a free 127.0.0.1 port with its own directory and no persistence, and `stop()` ends exactly the
 * PIDs this harness started.
 */

/** Certificate files for a TLS topology (the server certificate must be valid for 127.0.0.1). */
export interface TopologyTls {
  cert: string;
  key: string;
  ca: string;
}

export interface TopologyOptions {
  /** `requirepass` on every data node (and `masterauth`, so replicas can sync). */
  password?: string;
  /** Serve TLS only (`port 0`), replicate and gossip over TLS. */
  tls?: TopologyTls;
}

export interface RedisNode {
  readonly host: "127.0.0.1";
  readonly port: number;
  readonly dir: string;
  process: ManagedProcess;
  /** A short-lived admin connection: runs one command and disconnects. */
  command(name: string, ...args: Array<string | number>): Promise<unknown>;
  /** SIGKILL: the crash a failover is meant to survive. */
  kill(): Promise<void>;
  /** Starts the same server again on the same port and directory (after `kill` or `stop`). */
  restart(extraArgs?: string[]): Promise<void>;
  stop(): Promise<void>;
}

const HOST = "127.0.0.1" as const;

function tlsArgs(tls: TopologyTls | undefined): string[] {
  if (tls === undefined) return [];
  // The default asks clients for certificates; ElastiCache does not, and neither do we.
  return ["--tls-cert-file", tls.cert, "--tls-key-file", tls.key, "--tls-ca-cert-file", tls.ca, "--tls-auth-clients", "no"];
}

function portArgs(port: number, tls: TopologyTls | undefined): string[] {
  return tls === undefined ? ["--port", String(port)] : ["--port", "0", "--tls-port", String(port)];
}

/** An ioredis connection to one node for harness work (never the code under test). */
export function adminClient(port: number, options: TopologyOptions & { password?: string } = {}): Redis {
  const client = new Redis({
    host: HOST,
    port,
    lazyConnect: true,
    // INFO must work while a server loads its data (the ready check would wait for the load).
    enableReadyCheck: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    commandTimeout: 5000,
    retryStrategy: () => null,
    ...(options.password === undefined ? {} : { password: options.password }),
    ...(options.tls === undefined ? {} : { tls: { ca: readCa(options.tls), servername: "localhost" } }),
  });
  client.on("error", () => undefined); // failures reach the awaited command; no "unhandled error" noise
  return client;
}

const caCache = new Map<string, string>();
function readCa(tls: TopologyTls): string {
  let ca = caCache.get(tls.ca);
  if (ca === undefined) {
    ca = readFileSync(tls.ca, "utf8");
    caCache.set(tls.ca, ca);
  }
  return ca;
}

async function runCommand(port: number, options: TopologyOptions, name: string, args: Array<string | number>): Promise<unknown> {
  const client = adminClient(port, options);
  try {
    await client.connect();
    return await client.call(name, ...args);
  } finally {
    client.disconnect();
  }
}

/**
 * Starts one redis-server with its own directory and no persistence, on a free port or on `port`
 * (which must be free). Resolves once this very process listens there (and on its cluster bus port).
 */
export async function startRedisNode(options: TopologyOptions & { args?: string[]; port?: number; label?: string } = {}): Promise<RedisNode> {
  const dir = tempDir(options.label ?? "redis-node");
  const auth = options.password === undefined ? [] : ["--requirepass", options.password, "--masterauth", options.password];
  const argsFor = (port: number) => [...portArgs(port, options.tls), "--bind", HOST, "--save", "", "--appendonly", "no", "--dir", dir.path,
    // Diskless sync waits 5 s by default for more replicas to join; ours are all there at once.
    "--repl-diskless-sync-delay", "0", ...tlsArgs(options.tls), ...auth, ...(options.args ?? [])];
  // A cluster node also listens on its bus port, port + 10000: a node that cannot bind it exits.
  const clustered = (options.args ?? []).some((arg, i, all) => arg === "--cluster-enabled" && all[i + 1] === "yes");
  return launchNode("redis-server", argsFor, dir, options, { what: "redis-server", ...(clustered ? { alsoPorts: (port: number) => [port + 10000] } : {}) }, options.port);
}

/**
 * Starts `binary` with `argsFor(port)` on `port` or a free one, waits until it listens there itself, and
 * wraps it as a RedisNode that owns `dir`.
 */
async function launchNode(binary: string, argsFor: (port: number) => string[], dir: { path: string; remove(): void }, clientOptions: TopologyOptions, launch: PortLaunchOptions, fixedPort?: number): Promise<RedisNode> {
  const start = (extra: string[]) => (port: number) => startProcess(binary, [...argsFor(port), ...extra]);
  let first: { port: number; process: ManagedProcess };
  try {
    first = fixedPort === undefined ? await launchOnFreePort(start([]), launch) : { port: fixedPort, process: await launchOnPort(start([]), fixedPort, launch) };
  } catch (error) {
    dir.remove();
    throw error;
  }
  const port = first.port;
  const node: RedisNode = {
    host: HOST,
    port,
    dir: dir.path,
    process: first.process,
    command: (name, ...commandArgs) => runCommand(port, clientOptions, name, commandArgs),
    async kill() {
      await node.process.stop("SIGKILL");
    },
    async restart(extraArgs = []) {
      await node.process.stop();
      node.process = await launchOnPort(start(extraArgs), port, launch);
    },
    async stop() {
      await node.process.stop();
      dir.remove();
    },
  };
  return node;
}

/** Parses `INFO` text into fields. */
export function parseInfo(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const at = line.indexOf(":");
    if (at > 0 && !line.startsWith("#")) fields.set(line.slice(0, at), line.slice(at + 1));
  }
  return fields;
}

/** Calls per command since the last CONFIG RESETSTAT, from INFO commandstats: proves where commands ran. */
export async function commandCalls(node: RedisNode): Promise<Record<string, number>> {
  const calls: Record<string, number> = {};
  for (const [field, value] of parseInfo(String(await node.command("INFO", "commandstats")))) {
    const command = /^cmdstat_(.+)$/.exec(field)?.[1];
    const count = /calls=(\d+)/.exec(value)?.[1];
    if (command !== undefined && count !== undefined) calls[command] = Number(count);
  }
  return calls;
}

/** Resolves once the replica's link to its primary is up and it has finished the initial sync. */
export async function waitForReplicaSync(replica: RedisNode, timeoutMs = 20_000): Promise<void> {
  await eventually(`replica ${replica.port} in sync`, async () => {
    const info = parseInfo(String(await replica.command("INFO", "replication")));
    return info.get("master_link_status") === "up" && info.get("master_sync_in_progress") === "0";
  }, timeoutMs);
}

// ---- primary + replicas ------------------------------------------------------------------------------

export interface ReplicaSet {
  primary: RedisNode;
  replicas: RedisNode[];
  options: TopologyOptions;
  /** `redis://` or `rediss://` URL of a node (with the password when there is one). */
  url(node: RedisNode): string;
  stop(): Promise<void>;
}

function nodeUrl(node: RedisNode, options: TopologyOptions): string {
  const auth = options.password === undefined ? "" : `:${encodeURIComponent(options.password)}@`;
  return `${options.tls === undefined ? "redis" : "rediss"}://${auth}${HOST}:${node.port}`;
}

/** A primary and `replicas` replicas (`--replicaof`), resolved once every replica has synced. */
export async function startReplicaSet(options: TopologyOptions & { replicas?: number; args?: string[] } = {}): Promise<ReplicaSet> {
  const count = options.replicas ?? 1;
  const replicaTls = options.tls === undefined ? [] : ["--tls-replication", "yes"];
  const primary = await startRedisNode({ ...options, label: "primary", args: [...replicaTls, ...(options.args ?? [])] });
  const replicas: RedisNode[] = [];
  try {
    for (let i = 0; i < count; i++) {
      replicas.push(await startRedisNode({ ...options, label: "replica", args: [...replicaTls, "--replicaof", HOST, String(primary.port), ...(options.args ?? [])] }));
    }
    await Promise.all(replicas.map((replica) => waitForReplicaSync(replica)));
  } catch (error) {
    await Promise.all([primary, ...replicas].map((node) => node.stop()));
    throw error;
  }
  return {
    primary,
    replicas,
    options,
    url: (node) => nodeUrl(node, options),
    async stop() {
      await Promise.all([primary, ...replicas].map((node) => node.stop()));
    },
  };
}

// ---- Sentinel ----------------------------------------------------------------------------------------

export interface SentinelTopology extends ReplicaSet {
  /** The master name the sentinels monitor. */
  name: string;
  sentinels: RedisNode[];
  /** `requirepass` of the sentinels, when set. */
  sentinelPassword: string | undefined;
  /** `[{ host, port }]` of every sentinel, as the backend's `sentinels` option takes them. */
  sentinelAddresses(): Array<{ host: string; port: number }>;
  /** The master's port as the sentinels currently see it. */
  masterPort(): Promise<number>;
  /** The data node (primary or replica) listening on `port`. */
  nodeAt(port: number): RedisNode | undefined;
}

export interface SentinelOptions extends TopologyOptions {
  replicas?: number;
  /** How many sentinels; the quorum is a majority of them. Default 1. */
  sentinels?: number;
  /** `requirepass` for the sentinels themselves (AUTH to Sentinel). */
  sentinelPassword?: string;
  /** Master name. Default "mymaster". */
  name?: string;
  /** Sentinel's `down-after-milliseconds`. Default 1000 (quick tests). */
  downAfterMs?: number;
}

/**
 * A primary, its replicas and `sentinels` sentinels watching them. Resolves once every sentinel sees
 * the master and all its replicas (so a failover can start as soon as the master dies).
 */
export async function startSentinelTopology(options: SentinelOptions = {}): Promise<SentinelTopology> {
  const name = options.name ?? "mymaster";
  const set = await startReplicaSet({ ...options, replicas: options.replicas ?? 1 });
  const count = options.sentinels ?? 1;
  const quorum = Math.floor(count / 2) + 1;
  const sentinels: RedisNode[] = [];
  try {
    for (let i = 0; i < count; i++) sentinels.push(await startSentinel(set.primary.port, name, quorum, options));
    await Promise.all(
      sentinels.map((sentinel) =>
        eventually(`sentinel ${sentinel.port} sees the topology`, async () => {
          const master = (await sentinel.command("SENTINEL", "MASTER", name)) as string[];
          const fields = pairs(master);
          return Number(fields.get("num-slaves")) === set.replicas.length && Number(fields.get("num-other-sentinels")) === count - 1;
        }),
      ),
    );
  } catch (error) {
    await Promise.all([...sentinels.map((s) => s.stop()), set.stop()]);
    throw error;
  }
  const all = [set.primary, ...set.replicas];
  return {
    ...set,
    name,
    sentinels,
    sentinelPassword: options.sentinelPassword,
    sentinelAddresses: () => sentinels.map((s) => ({ host: s.host, port: s.port })),
    async masterPort() {
      for (const sentinel of sentinels) {
        try {
          const address = (await sentinel.command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", name)) as [string, string];
          return Number(address[1]);
        } catch {
          // that sentinel may be down; ask the next
        }
      }
      throw new Error("no sentinel answered");
    },
    nodeAt: (port) => all.find((node) => node.port === port),
    async stop() {
      await Promise.all(sentinels.map((s) => s.stop()));
      await set.stop();
    },
  };
}

function pairs(flat: unknown): Map<string, string> {
  const map = new Map<string, string>();
  if (!Array.isArray(flat)) return map;
  for (let i = 0; i + 1 < flat.length; i += 2) map.set(String(flat[i]), String(flat[i + 1]));
  return map;
}

async function startSentinel(masterPort: number, name: string, quorum: number, options: SentinelOptions): Promise<RedisNode> {
  const dir = tempDir("sentinel");
  const file = join(dir.path, "sentinel.conf");
  const linesFor = (port: number) => [
    ...(options.tls === undefined ? [`port ${port}`] : ["port 0", `tls-port ${port}`, `tls-cert-file ${options.tls.cert}`, `tls-key-file ${options.tls.key}`, `tls-ca-cert-file ${options.tls.ca}`, "tls-auth-clients no", "tls-replication yes"]),
    `bind ${HOST}`,
    `dir ${dir.path}`,
    `sentinel monitor ${name} ${HOST} ${masterPort} ${quorum}`,
    `sentinel down-after-milliseconds ${name} ${options.downAfterMs ?? 1000}`,
    `sentinel failover-timeout ${name} 5000`,
    `sentinel parallel-syncs ${name} 1`,
    ...(options.password === undefined ? [] : [`sentinel auth-pass ${name} ${options.password}`]),
    ...(options.sentinelPassword === undefined ? [] : [`requirepass ${options.sentinelPassword}`, `sentinel sentinel-pass ${options.sentinelPassword}`]),
  ];
  // Sentinel rewrites its config file as the topology changes, so it must be its own writable file,
  // written once per port: a restart on the same port keeps what Sentinel learned.
  let writtenFor: number | undefined;
  const argsFor = (port: number) => {
    if (writtenFor !== port) writeFileSync(file, `${linesFor(port).join("\n")}\n`);
    writtenFor = port;
    return [file];
  };
  const sentinelOptions: TopologyOptions = { ...(options.tls === undefined ? {} : { tls: options.tls }), ...(options.sentinelPassword === undefined ? {} : { password: options.sentinelPassword }) };
  return launchNode("redis-sentinel", argsFor, dir, sentinelOptions, { what: "redis-sentinel" });
}

// ---- Cluster -----------------------------------------------------------------------------------------

export interface ClusterTopology {
  nodes: RedisNode[];
  options: TopologyOptions;
  /** `[{ host, port }]` of every node, as the backend's `cluster` option takes them. */
  seeds(): Array<{ host: string; port: number }>;
  /** The current masters and, for each, the replicas that follow it (from CLUSTER NODES). */
  roles(): Promise<Array<{ master: RedisNode; replicas: RedisNode[] }>>;
  /** Resolves once every live node reports `cluster_state:ok` with all 16384 slots served. */
  waitUntilHealthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A Redis Cluster of `masters` masters with `replicasPerMaster` replicas each, created with
 * `redis-cli --cluster create`. Resolves once the cluster is ok and every replica has synced.
 */
export async function startCluster(options: TopologyOptions & { masters?: number; replicasPerMaster?: number; nodeTimeoutMs?: number } = {}): Promise<ClusterTopology> {
  const masters = options.masters ?? 3;
  const perMaster = options.replicasPerMaster ?? 1;
  const clusterArgs = [
    "--cluster-enabled", "yes",
    "--cluster-config-file", "nodes.conf",
    "--cluster-node-timeout", String(options.nodeTimeoutMs ?? 2000),
    // A replica promotes itself however long it was cut off: loopback tests kill nodes on purpose.
    "--cluster-replica-validity-factor", "0",
    ...(options.tls === undefined ? [] : ["--tls-cluster", "yes", "--tls-replication", "yes"]),
  ];
  const nodes: RedisNode[] = [];
  const stopAll = () => Promise.all(nodes.map((node) => node.stop()));
  try {
    for (let i = 0; i < masters * (1 + perMaster); i++) nodes.push(await startRedisNode({ ...options, label: "cluster", args: clusterArgs }));
    const cliArgs = [
      ...(options.tls === undefined ? [] : ["--tls", "--cacert", options.tls.ca]),
      ...(options.password === undefined ? [] : ["--no-auth-warning", "-a", options.password]),
      "--cluster", "create", ...nodes.map((node) => `${HOST}:${node.port}`),
      "--cluster-replicas", String(perMaster), "--cluster-yes",
    ];
    const cli = startProcess("redis-cli", cliArgs);
    // redis-cli waits forever for nodes that cannot gossip (a TLS misconfiguration, say): bound it, so a
    // failed start stops every node it began instead of leaving them behind.
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([cli.exited, new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), 30_000)))]).finally(() => clearTimeout(timer));
    if (code !== 0) {
      await cli.stop("SIGKILL");
      throw new Error(`redis-cli --cluster create ${code === "timeout" ? "did not finish within 30 s" : `failed (${code})`}:\n${cli.output()}`);
    }
  } catch (error) {
    await stopAll();
    throw error;
  }
  const topology: ClusterTopology = {
    nodes,
    options,
    seeds: () => nodes.map((node) => ({ host: node.host, port: node.port })),
    async roles() {
      const text = await firstAnswer(nodes, "CLUSTER", "NODES");
      const byId = new Map<string, { port: number; master: boolean; masterId: string; failed: boolean }>();
      for (const line of String(text).trim().split("\n")) {
        const [id, address, flags, masterId] = line.split(" ");
        if (id === undefined || address === undefined || flags === undefined) continue;
        const port = Number(address.split("@")[0]?.split(":")[1]);
        byId.set(id, { port, master: flags.includes("master"), masterId: masterId ?? "-", failed: flags.includes("fail") && !flags.includes("fail?") });
      }
      const result: Array<{ master: RedisNode; replicas: RedisNode[] }> = [];
      for (const [id, entry] of byId) {
        const master = nodes.find((node) => node.port === entry.port);
        if (!entry.master || entry.failed || master === undefined) continue;
        const replicas = [...byId.values()].filter((other) => other.masterId === id && !other.failed).map((other) => nodes.find((node) => node.port === other.port)).filter((node): node is RedisNode => node !== undefined);
        result.push({ master, replicas });
      }
      return result;
    },
    async waitUntilHealthy(timeoutMs = 30_000) {
      await eventually("cluster healthy", async () => {
        const answers = await Promise.all(nodes.filter((node) => node.process.child.exitCode === null && node.process.child.signalCode === null).map((node) => node.command("CLUSTER", "INFO")));
        return answers.every((answer) => {
          const info = parseInfo(String(answer));
          return info.get("cluster_state") === "ok" && info.get("cluster_slots_assigned") === "16384" && info.get("cluster_slots_fail") === "0";
        });
      }, timeoutMs);
    },
    stop: async () => {
      await stopAll();
    },
  };
  try {
    await topology.waitUntilHealthy();
    // Gossip needs a moment to tell every node who replicates whom: wait for the full picture.
    let roles: Awaited<ReturnType<ClusterTopology["roles"]>> = [];
    await eventually("every master has its replicas", async () => {
      roles = await topology.roles();
      return roles.length === masters && roles.every((role) => role.replicas.length === perMaster);
    });
    await Promise.all(roles.flatMap((role) => role.replicas.map((replica) => waitForReplicaSync(replica))));
    // CLUSTER SLOTS, where clients learn the replicas, leaves a replica out until gossip has told the node
    // its replication offset: a client connected before that (node-redis with useReplicas) never reads
    // from replicas. Wait until every node lists every replica.
    await eventually("every node lists the replicas in CLUSTER SLOTS", async () => {
      const answers = await Promise.all(nodes.map((node) => node.command("CLUSTER", "SLOTS")));
      return answers.every((ranges) => (ranges as unknown[][]).every((range) => range.length - 3 >= perMaster));
    });
  } catch (error) {
    await stopAll();
    throw error;
  }
  return topology;
}

async function firstAnswer(nodes: RedisNode[], name: string, ...args: string[]): Promise<unknown> {
  let last: unknown;
  for (const node of nodes) {
    if (node.process.child.exitCode !== null || node.process.child.signalCode !== null) continue;
    try {
      return await node.command(name, ...args);
    } catch (error) {
      last = error;
    }
  }
  throw last instanceof Error ? last : new Error("no cluster node answered");
}
