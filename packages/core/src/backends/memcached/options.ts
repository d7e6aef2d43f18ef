import type { ConnectionOptions } from "node:tls";
import { configError } from "../../errors.js";
import { refuseUndefinedSecrets } from "../../secret-options.js";
import { nodeAddress, nodeName } from "./address.js";
import { parseMemcachedUrl } from "./url.js";

/** TLS settings for memcached's in-transit encryption (`memcached -Z`, ElastiCache with encryption). */
export type MemcachedTlsOptions = Pick<ConnectionOptions, "ca" | "cert" | "key" | "servername" | "rejectUnauthorized" | "minVersion">;

export interface MemcachedNodeAddress {
  host: string;
  /** Default 11211. */
  port?: number;
}

export interface MemcachedBackendOptions {
  /**
   * The nodes: `"host:port"` strings (port defaults to 11211; IPv6 as `"[::1]:11211"`) or
   * `{ host, port }`. Keys are spread over them by consistent hashing (ketama). Give this or `url`.
   */
  servers?: ReadonlyArray<string | MemcachedNodeAddress>;
  /**
   * `memcached://[user:pass@]host1:11211,host2:11211[?tls=true]`: nodes, SASL credentials
   * (percent-encoded) and TLS in one string. Give this or `servers`.
   */
  url?: string;
  /** SASL PLAIN user name (memcached started with `-S`). Default: none, no authentication. */
  username?: string;
  /** SASL PLAIN password. Never appears in errors or logs. */
  password?: string;
  /**
   * TLS to every node: `true` for Node's built-in CA list, or options (ca, cert, key, servername,
   * rejectUnauthorized). Certificate verification stays on unless you set rejectUnauthorized: false.
   * Default: off (plain TCP).
   */
  tls?: boolean | MemcachedTlsOptions;
  /**
   * The server's largest item in bytes (memcached's `-I`, 1 MB by default, same on ElastiCache unless
   * `max_item_size` was changed). A session whose key and value would not fit is refused with
   * TOO_LARGE before anything is sent, because memcached deletes the old value when it refuses a SET.
   * Default 1 048 576.
   */
  maxItemBytes?: number;
  /**
   * How long one node may take to answer before it counts as dead and its keys go to the next node,
   * in milliseconds. Default: half of the store's `timeoutMs`, so the retry on the next node still fits
   * in the store's deadline.
   */
  nodeTimeoutMs?: number;
  /** How long a dead node is left out before it is probed again, in milliseconds. Default 1000. */
  retryDeadNodeMs?: number;
}

export interface ResolvedMemcachedOptions {
  nodes: Array<{ host: string; port: number }>;
  username: string | undefined;
  password: string | undefined;
  tls: MemcachedTlsOptions | undefined;
  maxItemBytes: number;
  nodeTimeoutMs: number | undefined;
  retryDeadNodeMs: number;
}

const KNOWN = new Set(["servers", "url", "username", "password", "tls", "maxItemBytes", "nodeTimeoutMs", "retryDeadNodeMs"]);

/** Validates the options once, at construction; every message names the option and what it accepts. */
export function resolveMemcachedOptions(options: MemcachedBackendOptions): ResolvedMemcachedOptions {
  if (options === null || typeof options !== "object") throw configError("memcachedBackend options", "an object");
  for (const name of Object.keys(options)) {
    if (!KNOWN.has(name)) throw configError(name, `one of the memcachedBackend options (${[...KNOWN].join(", ")})`);
  }
  if ((options.url === undefined) === (options.servers === undefined)) {
    throw configError("servers", 'given alone: pass either "servers" or "url" (memcached://host:11211), not both and not neither');
  }
  let fromUrl: ReturnType<typeof parseMemcachedUrl> | undefined;
  let nodes: Array<{ host: string; port: number }>;
  if (options.url !== undefined) {
    fromUrl = parseMemcachedUrl(options.url);
    nodes = fromUrl.nodes;
  } else {
    if (!Array.isArray(options.servers) || options.servers.length === 0) {
      throw configError("servers", 'a non-empty array of "host:port" strings or { host, port } objects', options.servers);
    }
    nodes = options.servers.map((server) => nodeAddress(server));
  }
  const names = new Set<string>();
  for (const node of nodes) {
    const name = nodeName(node);
    if (names.has(name)) throw configError("servers", `a list without duplicates (${name} appears twice)`);
    names.add(name);
  }
  refuseUndefinedSecrets(options, ["username", "password"]);
  const username = options.username ?? fromUrl?.username;
  const password = options.password ?? fromUrl?.password;
  if (username !== undefined && (typeof username !== "string" || username.length === 0)) throw configError("username", "a non-empty string", username);
  if (password !== undefined && typeof password !== "string") throw configError("password", "a string", password);
  if ((username === undefined) !== (password === undefined)) throw configError(username === undefined ? "username" : "password", "given together with the other: SASL needs both username and password");

  let tls: MemcachedTlsOptions | undefined;
  const tlsOption = options.tls ?? fromUrl?.tls;
  if (tlsOption === true) tls = {};
  else if (tlsOption !== undefined && tlsOption !== false) {
    if (tlsOption === null || typeof tlsOption !== "object") throw configError("tls", "true, false or an object with ca, cert, key, servername, rejectUnauthorized", tlsOption);
    tls = tlsOption;
  }

  return {
    nodes,
    username,
    password,
    tls,
    maxItemBytes: wholeNumber("maxItemBytes", options.maxItemBytes, 1_048_576, 1024, 1024 * 1024 * 1024, "bytes"),
    nodeTimeoutMs: options.nodeTimeoutMs === undefined ? undefined : wholeNumber("nodeTimeoutMs", options.nodeTimeoutMs, 0, 1, 600_000, "milliseconds"),
    retryDeadNodeMs: wholeNumber("retryDeadNodeMs", options.retryDeadNodeMs, 1000, 10, 3_600_000, "milliseconds"),
  };
}

function wholeNumber(option: string, value: unknown, fallback: number, min: number, max: number, unit: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw configError(option, `a whole number of ${unit} between ${min} and ${max}`, value);
  }
  return value;
}
