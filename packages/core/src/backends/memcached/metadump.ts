import { connect as netConnect, type Socket } from "node:net";
import { createInterface } from "node:readline";
import { connect as tlsConnect } from "node:tls";
import { SessionStoreError } from "../../errors.js";
import { nodeName } from "./address.js";
import { decodeKey } from "./keys.js";
import type { MemcachedTlsOptions } from "./options.js";

/** Keys per batch handed to the caller. */
const BATCH = 500;

export interface MetadumpNode {
  host: string;
  port: number;
  tls: MemcachedTlsOptions | undefined;
  /** Longest wait for the next line of the dump (not counting the time the caller holds a batch). */
  idleTimeoutMs: number;
}

/**
 * Lists one node's keys under `prefix` with their expiry through `lru_crawler metadump all` (memcached
 * 1.4.31+), a text-protocol command on its own connection. Lines look like
 * `key=<uri-encoded key> exp=<unix seconds, -1 = never> la=… cas=… fetch=… cls=… size=…`, then `END`.
 *
 * Where it is not available it says so and why: a server with SASL (`-S`) speaks only the binary
 * protocol; a server that disabled the LRU crawler (`-o no_lru_crawler`) or a managed service that
 * refuses the command answers an error.
 */
export async function* metadump(node: MetadumpNode, prefix: string, unlisted?: { count: number }): AsyncIterable<Array<{ key: string; expiresAtMs: number | null }>> {
  const name = nodeName(node);
  const socket: Socket = node.tls === undefined ? netConnect({ host: node.host, port: node.port }) : tlsConnect({ host: node.host, port: node.port, servername: node.tls.servername ?? node.host, ...node.tls });
  const failed = (why: string) => new SessionStoreError("UNSUPPORTED", `memcached ${name}: cannot list keys with "lru_crawler metadump all" (${why}); sessions on this node cannot be listed — they expire by TTL or are destroyed by id`);
  const unreachable = (cause: Error) => new SessionStoreError("UNAVAILABLE", `memcached ${name}: listing keys failed: ${cause.message} — is the server running and reachable?`, { cause });
  let error: Error | undefined;
  socket.on("timeout", () => socket.destroy(new SessionStoreError("TIMEOUT", `memcached ${name}: no answer to "lru_crawler metadump all" within ${node.idleTimeoutMs} ms`)));
  socket.setTimeout(node.idleTimeoutMs);
  socket.on("error", (cause) => (error = cause));
  socket.write("lru_crawler metadump all\r\n");
  const lines = createInterface({ input: socket, crlfDelay: Number.POSITIVE_INFINITY });
  let batch: Array<{ key: string; expiresAtMs: number | null }> = [];
  let ended = false;
  const now = Date.now();
  try {
    for await (const line of lines) {
      if (line === "END") {
        ended = true;
        break;
      }
      if (!line.startsWith("key=")) {
        // ERROR (unknown command), CLIENT_ERROR …, BUSY (another crawl runs): the server's own words.
        throw failed(`the server answered ${JSON.stringify(line.slice(0, 120))}`);
      }
      const fields = new Map(line.split(" ").map((field) => [field.slice(0, field.indexOf("=")), field.slice(field.indexOf("=") + 1)] as const));
      let raw: string;
      try {
        raw = decodeURIComponent(fields.get("key") ?? "");
      } catch {
        continue;
      }
      const key = decodeKey(raw);
      if (key === null) {
        if (unlisted !== undefined && raw.startsWith(prefix.slice(0, 180))) unlisted.count++;
        continue;
      }
      if (!key.startsWith(prefix)) continue;
      const exp = Number(fields.get("exp"));
      const expiresAtMs = exp === -1 || !Number.isFinite(exp) ? null : exp * 1000;
      if (expiresAtMs !== null && expiresAtMs <= now) continue; // expired, not reclaimed yet
      batch.push({ key, expiresAtMs });
      if (batch.length >= BATCH) {
        // The deadline is the server's: while the caller works through a batch (a rate-limited migrate
        // takes seconds), the read-ahead stops and the socket goes quiet, which is no server fault.
        socket.setTimeout(0);
        yield batch;
        socket.setTimeout(node.idleTimeoutMs);
        batch = [];
      }
    }
    if (!ended) {
      if (error instanceof SessionStoreError) throw error;
      if (error === undefined) throw failed("the server closed the connection (a server with SASL speaks only the binary protocol)");
      throw unreachable(error);
    }
    if (batch.length > 0) yield batch;
  } catch (caught) {
    // The socket's own error (ECONNREFUSED: the node is down) surfaces through the line reader as it is.
    throw caught instanceof SessionStoreError ? caught : unreachable(caught as Error);
  } finally {
    lines.close();
    socket.destroy();
  }
}
