import type { ConnectionOptions } from "node:tls";
import { configError } from "../../errors.js";
import { refuseUndefinedSecrets } from "../../secret-options.js";

/**
 * Where reads go.
 * - `primary`: every command on the primary (master). Reads see every acknowledged write.
 * - `replica`: reads on a replica; a miss falls back to the primary (so a session written a moment ago is
 *   found). A replica that fails fails the read.
 * - `replica-preferred`: like `replica`, but a replica that fails, is unreachable or is slow (half of
 *   `timeoutMs`) hands the read to the primary.
 */
export type ReadFrom = "primary" | "replica" | "replica-preferred";

export interface RedisAddress {
  host: string;
  port: number;
}

export interface WaitForReplicas {
  /** How many replicas must acknowledge each write (Redis `WAIT numreplicas`). */
  replicas: number;
  /** How long a write waits for them, in milliseconds; must be below the store's `timeoutMs`. */
  timeoutMs: number;
}

/** Options for replicas, Sentinel and Cluster. At most one of `readers`, `sentinels`, `cluster`. */
export interface HighAvailabilityOptions {
  /**
   * Reader endpoint URL(s) (`redis://` or `rediss://`), e.g. ElastiCache's reader endpoint for a
   * cluster-mode-disabled replication group; `url` stays the primary endpoint. Reads rotate over them.
   * Credentials, TLS and `db` come from the primary's options unless the reader URL gives its own.
   * Default: none.
   */
  readers?: string[];
  /** Sentinel addresses. Writes go to the master they name, replica reads to its replicas. Needs `name`. */
  sentinels?: RedisAddress[];
  /** The master name the sentinels monitor (`sentinel monitor <name> …`). Required with `sentinels`. */
  name?: string;
  /** ACL user for AUTH to the sentinels themselves. Default: none. */
  sentinelUsername?: string;
  /** Password for AUTH to the sentinels (their `requirepass`). Default: none. Never logged. */
  sentinelPassword?: string;
  /** TLS to the sentinels: `true` or tls.connect options (ca, servername …). Default: plain TCP. */
  sentinelTLS?: boolean | ConnectionOptions;
  /**
   * TLS to the master and replicas the sentinels name. Default: true when `tls` is set or the URL is
   * `rediss://`, else false.
   */
  enableTLSForSentinelMode?: boolean;
  /**
   * Redis Cluster. An array of seed nodes, or `true` to use the `url` (or host/port) as the
   * configuration endpoint, as ElastiCache's cluster mode enabled offers. The client discovers every
   * shard from there. Default: not a cluster.
   */
  cluster?: true | RedisAddress[];
  /**
   * Cluster only: how the client resolves node host names. For a TLS ElastiCache cluster pass
   * `(address, callback) => callback(null, address)` so connections keep the host name and the
   * certificate matches. Default: the system resolver.
   */
  dnsLookup?: (hostname: string, callback: (error: NodeJS.ErrnoException | null, address: string, family?: number) => void) => void;
  /**
   * Where reads go: `primary`, `replica` or `replica-preferred` (see ReadFrom). Default `primary`,
   * except `replica-preferred` when `readers` are given.
   */
  readFrom?: ReadFrom;
  /**
   * With replica reads and a store that refreshes the TTL on every read (`touchAfterMs` 0): a read costs
   * one round trip on a replica (GET + PTTL), and the TTL is pushed to the primary (PEXPIRE) only once
   * it has dropped by more than this many milliseconds. Default: a tenth of the TTL, at most 60 000.
   */
  replicaTouchAfterMs?: number;
  /**
   * Make every write (set, touch, delete) wait until this many replicas acknowledged it (Redis WAIT).
   * A write they do not acknowledge in time rejects with UNAVAILABLE (it is on the primary, but may be
   * lost in a failover or unseen by a lagging replica). Default: no waiting.
   */
  waitForReplicas?: WaitForReplicas;
}

export type Topology =
  | { kind: "standalone"; readers: string[] }
  | { kind: "sentinel"; sentinels: RedisAddress[]; name: string }
  | { kind: "cluster"; seeds: RedisAddress[] | "url" };

export interface ResolvedHighAvailability {
  topology: Topology;
  readFrom: ReadFrom;
  replicaTouchAfterMs: number | undefined;
  waitForReplicas: WaitForReplicas | undefined;
}

/** The option names this file owns, so the base can reject unknown ones. */
export const HIGH_AVAILABILITY_OPTIONS = [
  "readers",
  "sentinels",
  "name",
  "sentinelUsername",
  "sentinelPassword",
  "sentinelTLS",
  "enableTLSForSentinelMode",
  "cluster",
  "dnsLookup",
  "readFrom",
  "replicaTouchAfterMs",
  "waitForReplicas",
] as const;

const READ_FROM: readonly ReadFrom[] = ["primary", "replica", "replica-preferred"];

function address(option: string, value: unknown): RedisAddress {
  const candidate = value as Partial<RedisAddress> | null;
  if (candidate === null || typeof candidate !== "object" || typeof candidate.host !== "string" || candidate.host.length === 0) {
    throw configError(option, "a list of { host, port } objects with a non-empty host", value);
  }
  if (typeof candidate.port !== "number" || !Number.isInteger(candidate.port) || candidate.port < 1 || candidate.port > 65535) {
    throw configError(`${option}[].port`, "a whole number between 1 and 65535", candidate.port);
  }
  return { host: candidate.host, port: candidate.port };
}

function addresses(option: string, value: unknown): RedisAddress[] {
  if (!Array.isArray(value) || value.length === 0) throw configError(option, "a non-empty list of { host, port } objects", value);
  return value.map((item) => address(option, item));
}

function optionalString(option: string, value: unknown): void {
  if (value !== undefined && typeof value !== "string") throw configError(option, "a string", value);
}

/** Validates the high-availability options once, at construction. */
/**
 * `replicasInClient`: the caller's client sends read-only commands to replicas itself (a node-redis
 * Cluster made with useReplicas, a node-redis Sentinel with replicaPoolSize), so readFrom may use it.
 */
export function resolveHighAvailability(options: HighAvailabilityOptions, replicasInClient = false): ResolvedHighAvailability {
  const given = (["readers", "sentinels", "cluster"] as const).filter((name) => options[name] !== undefined);
  if (given.length > 1) throw configError(given.join(" / "), "used one at a time: readers (primary + reader endpoints), sentinels, or cluster");

  let topology: Topology = { kind: "standalone", readers: [] };
  if (options.readers !== undefined) {
    if (!Array.isArray(options.readers) || options.readers.length === 0 || !options.readers.every((url) => typeof url === "string" && /^(rediss?|valkeys?):\/\//i.test(url))) {
      throw configError("readers", "a non-empty list of redis:// or rediss:// (or valkey:// / valkeys://) URLs (reader endpoints)", options.readers);
    }
    topology = { kind: "standalone", readers: [...options.readers] };
  } else if (options.sentinels !== undefined) {
    const sentinels = addresses("sentinels", options.sentinels);
    if (typeof options.name !== "string" || options.name.length === 0) throw configError("name", "the master name the sentinels monitor (a non-empty string) when sentinels are given", options.name);
    topology = { kind: "sentinel", sentinels, name: options.name };
  } else if (options.cluster !== undefined) {
    if (options.cluster !== true && !Array.isArray(options.cluster)) throw configError("cluster", "true (the url is the configuration endpoint) or a non-empty list of { host, port } seed nodes", options.cluster);
    topology = { kind: "cluster", seeds: options.cluster === true ? "url" : addresses("cluster", options.cluster) };
  }

  if (options.name !== undefined && topology.kind !== "sentinel") throw configError("name", "given only together with sentinels");
  refuseUndefinedSecrets(options, ["sentinelUsername", "sentinelPassword"]);
  for (const option of ["sentinelUsername", "sentinelPassword"] as const) {
    optionalString(option, options[option]);
    if (options[option] !== undefined && topology.kind !== "sentinel") throw configError(option, "given only together with sentinels");
  }
  if (options.sentinelTLS !== undefined && (options.sentinelTLS === null || (typeof options.sentinelTLS !== "boolean" && typeof options.sentinelTLS !== "object"))) {
    throw configError("sentinelTLS", "true or tls.connect options", options.sentinelTLS);
  }
  if (options.enableTLSForSentinelMode !== undefined && typeof options.enableTLSForSentinelMode !== "boolean") {
    throw configError("enableTLSForSentinelMode", "true or false", options.enableTLSForSentinelMode);
  }
  if (options.dnsLookup !== undefined) {
    if (typeof options.dnsLookup !== "function") throw configError("dnsLookup", "a function (hostname, callback) like dns.lookup", options.dnsLookup);
    if (topology.kind !== "cluster") throw configError("dnsLookup", "given only together with cluster");
  }

  const readFrom = options.readFrom ?? (topology.kind === "standalone" && topology.readers.length > 0 ? "replica-preferred" : "primary");
  if (!READ_FROM.includes(readFrom)) throw configError("readFrom", `one of ${READ_FROM.map((value) => `"${value}"`).join(", ")}`, readFrom);
  if (readFrom !== "primary" && topology.kind === "standalone" && topology.readers.length === 0 && !replicasInClient) {
    const hasClient = (options as { client?: unknown }).client !== undefined;
    throw configError(
      "readFrom",
      hasClient
        ? `"primary" with this client: replica reads need a node-redis Cluster made with useReplicas: true or a node-redis Sentinel with replicaPoolSize, or connections sessionbridge opens (readers, sentinels, cluster)`
        : `"primary" unless there are replicas to read from: give readers, sentinels or cluster with readFrom "${readFrom}"`,
      readFrom,
    );
  }
  if (replicasInClient && readFrom === "replica") {
    throw configError("readFrom", `"replica-preferred" (or "primary") with a node-redis client: node-redis picks the node of each read itself (a replica or the master), so "only replicas" cannot be promised`, readFrom);
  }

  let replicaTouchAfterMs: number | undefined;
  if (options.replicaTouchAfterMs !== undefined) {
    const value = options.replicaTouchAfterMs;
    if (typeof value !== "number" || !Number.isInteger(value) || value < 0) throw configError("replicaTouchAfterMs", "a whole number of milliseconds, 0 or more", value);
    replicaTouchAfterMs = value;
  }

  let waitForReplicas: WaitForReplicas | undefined;
  if (options.waitForReplicas !== undefined) {
    const wait = options.waitForReplicas as Partial<WaitForReplicas> | null;
    if (wait === null || typeof wait !== "object") throw configError("waitForReplicas", "an object { replicas, timeoutMs }", wait);
    if (typeof wait.replicas !== "number" || !Number.isInteger(wait.replicas) || wait.replicas < 1) throw configError("waitForReplicas.replicas", "a whole number of replicas, 1 or more", wait.replicas);
    if (typeof wait.timeoutMs !== "number" || !Number.isInteger(wait.timeoutMs) || wait.timeoutMs < 1) throw configError("waitForReplicas.timeoutMs", "a whole number of milliseconds, 1 or more", wait.timeoutMs);
    waitForReplicas = { replicas: wait.replicas, timeoutMs: wait.timeoutMs };
  }
  return { topology, readFrom, replicaTouchAfterMs, waitForReplicas };
}

/** Checked when the store tells the backend its deadline: WAIT must end before the operation's deadline. */
export function assertWaitFitsDeadline(waitForReplicas: WaitForReplicas | undefined, timeoutMs: number): void {
  if (waitForReplicas !== undefined && waitForReplicas.timeoutMs >= timeoutMs) {
    throw configError("waitForReplicas.timeoutMs", `below the store's timeoutMs (${timeoutMs}), so a write can wait for replicas and still answer in time`, waitForReplicas.timeoutMs);
  }
}

/** Default for `replicaTouchAfterMs`: a tenth of the TTL, at most a minute. */
export function replicaTouchAfter(resolved: ResolvedHighAvailability, ttlMs: number): number {
  return resolved.replicaTouchAfterMs ?? Math.min(60_000, Math.floor(ttlMs / 10));
}
