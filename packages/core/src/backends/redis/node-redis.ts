/**
 * node-redis (the `redis` package, v5 and later) clients given as `client`: `createClient`,
 * `createCluster` and `createSentinel`. Recognised by their shape, so node-redis stays an optional peer
 * dependency: nothing here imports it. The commands go through node-redis-commands.ts, the connection
 * state through node-redis-lifecycle.ts; everything else is the same backend as with ioredis.
 */

/** What the backend uses of a node-redis client, cluster or sentinel (each is an EventEmitter). */
export interface NodeRedisClient {
  readonly isOpen: boolean;
  // Each kind has its own sendCommand signature (client: args; cluster: firstKey, isReadonly, args; sentinel: isReadonly, args).
  sendCommand(...args: any[]): Promise<unknown>;
  on(event: string, listener: (...args: any[]) => void): unknown;
  off(event: string, listener: (...args: any[]) => void): unknown;
}

export type NodeRedisKind = "client" | "cluster" | "sentinel";

/** Which node-redis object this is, or undefined when it is none. */
export function nodeRedisKind(value: unknown): NodeRedisKind | undefined {
  if (value === null || typeof value !== "object") return undefined;
  const candidate = value as Record<string, unknown>;
  if (typeof candidate.sendCommand !== "function" || typeof candidate.isOpen !== "boolean" || typeof candidate.on !== "function") return undefined;
  if (typeof candidate.getSlotMaster === "function" && typeof candidate.nodeClient === "function") return "cluster";
  if (typeof candidate.getMasterNode === "function" && typeof candidate.use === "function") return "sentinel";
  if (typeof candidate.isReady === "boolean") return "client";
  return undefined;
}

/** Where a standalone node-redis client connects, from its options (host, port, TLS, database), for labels and the TLS probe. */
export function nodeRedisEndpoint(client: NodeRedisClient): { host: string; port: number; tls: boolean; db: number; username: string | undefined } | undefined {
  const options = (client as { options?: { url?: unknown; socket?: Record<string, unknown>; database?: unknown; username?: unknown } }).options;
  if (options === undefined) return undefined;
  const socket = options.socket ?? {};
  if (typeof socket.path === "string") return undefined;
  let host = typeof socket.host === "string" ? socket.host : "localhost";
  let port = typeof socket.port === "number" ? socket.port : 6379;
  let tls = socket.tls === true;
  let db = typeof options.database === "number" ? options.database : 0;
  let username = typeof options.username === "string" ? options.username : undefined;
  // node-redis parses `url` into these options at connect time; read it here too (never kept: it may hold a password).
  if (typeof options.url === "string") {
    try {
      const url = new URL(options.url);
      if (url.hostname !== "") host = url.hostname.replace(/^\[|\]$/g, "");
      if (url.port !== "") port = Number(url.port);
      tls = tls || /^(rediss|valkeys):$/i.test(url.protocol);
      const path = url.pathname.replace(/^\/+/, "");
      if (/^\d+$/.test(path)) db = Number(path);
      if (url.username !== "" && username === undefined) username = decodeURIComponent(url.username);
    } catch {
      // node-redis itself reports a bad URL when it connects
    }
  }
  return { host, port, tls, db, username };
}
