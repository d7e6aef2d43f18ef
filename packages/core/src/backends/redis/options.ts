import type { Cluster, Redis } from "ioredis";
import { configError } from "../../errors.js";
import { refuseUndefinedSecrets } from "../../secret-options.js";
import { nodeRedisEndpoint, nodeRedisKind, type NodeRedisClient, type NodeRedisKind } from "./node-redis.js";
import type { HighAvailabilityOptions } from "./topology.js";

/** TLS settings for the connection to Redis (ElastiCache "in-transit encryption"). */
export interface RedisTlsOptions {
  /** Certificate authority (PEM) that signed the server certificate. Default: Node's built-in CA list. */
  ca?: string | Buffer | Array<string | Buffer>;
  /** Client certificate (PEM), only when the server requires client certificates. */
  cert?: string | Buffer;
  /** Private key (PEM) of the client certificate. */
  key?: string | Buffer;
  /** Host name the server certificate must match (SNI). Default: the host you connect to. */
  servername?: string;
  /**
   * Verify the server certificate. Default `true`. Turning it off lets anyone on the network path read
   * and change sessions: only for a throwaway local test.
   */
  rejectUnauthorized?: boolean;
}

export interface RedisBackendOptions extends HighAvailabilityOptions {
  /**
   * `redis://[[user]:password@]host[:port][/db]` or `rediss://…` for TLS (`valkey://` and `valkeys://`
   * read the same). User and password may be percent-encoded. Options given next to the URL (`db`, `username`, `password`, `tls`) override its parts.
   */
  url?: string;
  /** Server host name or IP, when not using `url`. Default `"127.0.0.1"`. */
  host?: string;
  /** Server port, when not using `url`. Default 6379. */
  port?: number;
  /** Database index (SELECT). Default 0. Redis Cluster and ElastiCache cluster mode only have 0. */
  db?: number;
  /** ACL user (Redis 6+, ElastiCache RBAC). Default: the `default` user. Needs `password`. */
  username?: string;
  /** Password (AUTH) or ElastiCache AUTH token. Never appears in errors or logs. */
  password?: string;
  /**
   * `true` or TLS settings to connect over TLS (also turned on by a `rediss://` URL). Certificate
   * verification stays on unless `rejectUnauthorized: false` is given explicitly.
   */
  tls?: boolean | RedisTlsOptions;
  /**
   * A client you created: ioredis (`new Redis(…)`, `new Cluster(…)`) or node-redis 5 or later
   * (`createClient`, `createCluster`, `createSentinel` from the `redis` package, connected with
   * `await client.connect()`). The backend uses it as it is and never closes it (you do). Give an
   * ioredis client `enableOfflineQueue: false` and `maxRetriesPerRequest: 0`, a node-redis client
   * `disableOfflineQueue: true`, or a command that waited in the client's offline queue could still be
   * sent after the store gave up on it. Excludes every connection option. See docs/redis-clients.md.
   */
  client?: Redis | Cluster | NodeRedisClient;
}

/** Where and how to connect, once every shortcut is resolved. Credentials live only here. */
export interface RedisEndpoint {
  host: string;
  port: number;
  db: number;
  username: string | undefined;
  password: string | undefined;
  tls: RedisTlsOptions | undefined;
}

export type ResolvedRedisOptions =
  | { kind: "endpoint"; endpoint: RedisEndpoint; label: string }
  | { kind: "client"; client: Redis | Cluster; label: string }
  | { kind: "node-redis"; client: NodeRedisClient; nodeRedis: NodeRedisKind; label: string };

/** Option names this backend accepts; anything else is a typo worth a CONFIG error. */
export const REDIS_OPTION_NAMES: readonly string[] = ["url", "host", "port", "db", "username", "password", "tls", "client"];
const CONNECTION_OPTIONS = ["url", "host", "port", "db", "username", "password", "tls"] as const;
const TLS_OPTION_NAMES = new Set(["ca", "cert", "key", "servername", "rejectUnauthorized"]);

export function resolveRedisOptions(options: RedisBackendOptions, extraKnown: readonly string[] = []): ResolvedRedisOptions {
  if (options === null || typeof options !== "object") throw configError("redisBackend options", "an object", options);
  for (const name of Object.keys(options)) {
    if (!REDIS_OPTION_NAMES.includes(name) && !extraKnown.includes(name)) {
      throw configError(name, `one of the redisBackend options (${[...REDIS_OPTION_NAMES, ...extraKnown].join(", ")})`);
    }
  }
  refuseUndefinedSecrets(options, ["username", "password"]);
  if (options.client !== undefined) return resolveClient(options);

  let host = "127.0.0.1";
  let port = 6379;
  let db = 0;
  let username: string | undefined;
  let password: string | undefined;
  let tls: RedisTlsOptions | undefined;
  if (options.url !== undefined) {
    if (options.host !== undefined || options.port !== undefined) {
      throw configError("host", 'left out when "url" is given (the URL already names host and port)');
    }
    const parsed = parseRedisUrl(options.url);
    ({ host, port, db, username, password } = parsed);
    if (parsed.tls) tls = {};
  }
  if (options.host !== undefined) {
    if (typeof options.host !== "string" || options.host.length === 0 || /[\s/@]/.test(options.host)) {
      throw configError("host", "a host name or IP address such as 127.0.0.1", options.host);
    }
    host = options.host;
  }
  if (options.port !== undefined) port = checkPort("port", options.port);
  if (options.db !== undefined) db = checkDb("db", options.db);
  if (options.username !== undefined) {
    if (typeof options.username !== "string" || options.username.length === 0) throw configError("username", "a non-empty string (the ACL user)", options.username);
    username = options.username;
  }
  if (options.password !== undefined) {
    if (typeof options.password !== "string" || options.password.length === 0) throw configError("password", "a non-empty string", options.password);
    password = options.password;
  }
  if (username !== undefined && password === undefined) {
    throw configError("password", `given together with username "${username}" (an ACL user logs in with a password)`);
  }
  if (options.tls !== undefined) {
    if (options.tls === false) {
      if (tls !== undefined) throw configError("tls", 'true or an object with a rediss:// URL (rediss:// means TLS; use redis:// for plain TCP)', false);
    } else {
      tls = checkTls(options.tls);
    }
  }
  const endpoint: RedisEndpoint = { host, port, db, username, password, tls };
  return { kind: "endpoint", endpoint, label: endpointLabel(endpoint) };
}

/** `redis 10.0.0.5:6379` or `redis 10.0.0.5:6379/2`: where, never who or with which password. */
export function endpointLabel(endpoint: Pick<RedisEndpoint, "host" | "port" | "db">): string {
  const host = endpoint.host.includes(":") ? `[${endpoint.host}]` : endpoint.host;
  return `redis ${host}:${endpoint.port}${endpoint.db === 0 ? "" : `/${endpoint.db}`}`;
}

interface ParsedUrl {
  host: string;
  port: number;
  db: number;
  username: string | undefined;
  password: string | undefined;
  tls: boolean;
}

function parseRedisUrl(url: unknown): ParsedUrl {
  const accepts = "a URL such as redis://host:6379/0, redis://:password@host:6379 or rediss://user:password@host:6380";
  if (typeof url !== "string") throw configError("url", accepts, url);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Never echo the URL: it may carry a password.
    throw configError("url", accepts, url);
  }
  const scheme = parsed.protocol.slice(0, -1).toLowerCase();
  if (!["redis", "rediss", "valkey", "valkeys"].includes(scheme)) throw configError("url", `${accepts} (the scheme must be redis, rediss, valkey or valkeys)`);
  if (parsed.hostname.length === 0) throw configError("url", `${accepts} (the host is missing)`);
  if (parsed.search.length > 0 || parsed.hash.length > 0) throw configError("url", `${accepts} (query parameters are not read; pass options instead)`);
  const port = parsed.port === "" ? 6379 : checkPort("url", Number(parsed.port));
  const path = parsed.pathname.replace(/^\/+/, "");
  const db = path === "" ? 0 : checkDb("url", /^\d+$/.test(path) ? Number(path) : Number.NaN);
  const username = decode(parsed.username);
  const password = decode(parsed.password);
  if (username !== undefined && password === undefined) {
    // Not echoing the name: a password written without its leading colon lands here.
    throw configError("url", `${accepts} (a user name without a password: write redis://:password@host for a password alone)`);
  }
  const hostname = parsed.hostname.startsWith("[") ? parsed.hostname.slice(1, -1) : parsed.hostname;
  return { host: hostname, port, db, username, password, tls: scheme === "rediss" || scheme === "valkeys" };
}

function decode(part: string): string | undefined {
  if (part === "") return undefined;
  try {
    return decodeURIComponent(part);
  } catch {
    throw configError("url", "percent-encoded user and password (encode reserved characters such as @ : / as %40 %3A %2F)");
  }
}

function checkPort(option: string, port: unknown): number {
  if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) throw configError(option, "a port number between 1 and 65535", port);
  return port;
}

function checkDb(option: string, db: unknown): number {
  if (typeof db !== "number" || !Number.isInteger(db) || db < 0 || db > 100_000) {
    throw configError(option, option === "url" ? "a database index after the host, such as redis://host:6379/2" : "a database index (a whole number, 0 or more)", db);
  }
  return db;
}

function checkTls(tls: unknown): RedisTlsOptions {
  if (tls === true) return {};
  if (tls === null || typeof tls !== "object" || Array.isArray(tls)) throw configError("tls", "true or an object with ca, cert, key, servername, rejectUnauthorized", tls);
  const given = tls as Record<string, unknown>;
  for (const name of Object.keys(given)) {
    if (!TLS_OPTION_NAMES.has(name)) throw configError(`tls.${name}`, `one of ${[...TLS_OPTION_NAMES].join(", ")}`);
  }
  const pem = (value: unknown) => typeof value === "string" || Buffer.isBuffer(value);
  if (given.ca !== undefined && !(pem(given.ca) || (Array.isArray(given.ca) && given.ca.every(pem)))) throw configError("tls.ca", "PEM text, a Buffer or an array of them", given.ca);
  if (given.cert !== undefined && !pem(given.cert)) throw configError("tls.cert", "PEM text or a Buffer", given.cert);
  if (given.key !== undefined && !pem(given.key)) throw configError("tls.key", "PEM text or a Buffer (never shown in errors)");
  if ((given.cert === undefined) !== (given.key === undefined)) throw configError(given.cert === undefined ? "tls.cert" : "tls.key", 'given together with its pair ("cert" and "key" go together)');
  if (given.servername !== undefined && (typeof given.servername !== "string" || given.servername.length === 0)) throw configError("tls.servername", "a host name", given.servername);
  if (given.rejectUnauthorized !== undefined && typeof given.rejectUnauthorized !== "boolean") throw configError("tls.rejectUnauthorized", "a boolean (default true)", given.rejectUnauthorized);
  return { ...(given as RedisTlsOptions) };
}

function resolveClient(options: RedisBackendOptions): ResolvedRedisOptions {
  const client = options.client as unknown as Record<string, unknown> | null;
  const nodeRedis = nodeRedisKind(client);
  const ioredis = client !== null && typeof client === "object" && typeof client.sendCommand === "function" && typeof client.status === "string";
  if (!ioredis && nodeRedis === undefined) {
    throw configError("client", "an ioredis client (new Redis(…) or new Cluster(…)) or a node-redis client (createClient, createCluster or createSentinel from the redis package, version 5 or later)", options.client);
  }
  for (const name of CONNECTION_OPTIONS) {
    if (options[name] !== undefined) throw configError(name, 'left out when "client" is given (the client already knows where to connect)');
  }
  if (nodeRedis !== undefined) {
    const endpoint = nodeRedis === "client" ? nodeRedisEndpoint(options.client as NodeRedisClient) : undefined;
    const label = nodeRedis === "cluster" ? "redis cluster (node-redis)" : nodeRedis === "sentinel" ? "redis sentinel (node-redis)" : `${endpoint === undefined ? "redis" : endpointLabel(endpoint)} (node-redis)`;
    return { kind: "node-redis", client: options.client as NodeRedisClient, nodeRedis, label };
  }
  const clientOptions = ((client as Record<string, unknown>).options ?? {}) as { host?: unknown; port?: unknown; db?: unknown };
  const isCluster = (client as { isCluster?: unknown }).isCluster === true;
  const label = isCluster
    ? "redis cluster"
    : endpointLabel({
        host: typeof clientOptions.host === "string" ? clientOptions.host : "localhost",
        port: typeof clientOptions.port === "number" ? clientOptions.port : 6379,
        db: typeof clientOptions.db === "number" ? clientOptions.db : 0,
      });
  return { kind: "client", client: options.client as Redis | Cluster, label };
}
