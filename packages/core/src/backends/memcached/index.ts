import type { Backend, CommandObserver, SetCondition, SetResult } from "../../backend.js";
import { SessionStoreError } from "../../errors.js";
import { BackendEmitter } from "../emitter.js";
import { nodeName } from "./address.js";
import { CasCache } from "./cas-cache.js";
import { isZero, Opcode, send, Status } from "./commands.js";
import { statusError } from "./errors.js";
import { encodeKey } from "./keys.js";
import { resolveMemcachedOptions, type MemcachedBackendOptions } from "./options.js";
import { NodePool, type Node } from "./pool.js";
import { metadump } from "./metadump.js";
import { expirationFor } from "./ttl.js";

export type { MemcachedBackendOptions, MemcachedNodeAddress, MemcachedTlsOptions } from "./options.js";

/**
 * Room memcached needs beside the key and value in one item (its item header, CAS, terminators),
 * rounded up so a value we let through is never refused by a server whose `-I` equals maxItemBytes.
 */
const ITEM_OVERHEAD_BYTES = 96;

/**
 * Sessions in memcached (ElastiCache for Memcached or self-hosted) over memjs's binary protocol:
 * ketama consistent hashing over the nodes, failover to the next node while one is down, SASL, TLS.
 *
 * What memcached cannot do is refused, not faked: it cannot list keys (ids/length/clear reject with
 * UNSUPPORTED; the server is never flushed) and has no per-user index. Updates are compare-and-set on
 * memcached's CAS token, so a destroyed session stays destroyed and concurrent saves are merged.
 */
export function memcachedBackend(options: MemcachedBackendOptions): Backend {
  const resolved = resolveMemcachedOptions(options);
  const events = new BackendEmitter();
  const defaultTimeoutMs = resolved.nodeTimeoutMs ?? 500;
  const pool = new NodePool({
    nodes: resolved.nodes.map((node) => ({ ...node, name: nodeName(node) })),
    connection: { username: resolved.username, password: resolved.password, tls: resolved.tls, timeoutMs: defaultTimeoutMs },
    retryDeadNodeMs: resolved.retryDeadNodeMs,
    events,
  });
  const label = pool.label();
  const tokens = new CasCache();
  let storeTimeoutMs = 1000;
  let closed = false;

  const assertOpen = (): void => {
    if (closed) throw new SessionStoreError("CLOSED", `${label}: the backend was closed`, { backend: label });
  };

  /** Runs one command on the key's node (throws CLOSED at once; the callers are async, so it rejects them). */
  const command = <T>(key: string, changes: boolean, work: (node: Node) => Promise<T>, observer: CommandObserver | undefined): Promise<T> => {
    assertOpen();
    return pool.route(key, changes, work, observer);
  };

  const tooLarge = (detail: string): SessionStoreError => new SessionStoreError("TOO_LARGE", `${label}: ${detail} — keep large data out of the session`, { backend: label });

  const conditionalSet = async (node: Node, key: string, value: string, expiration: number, condition: SetCondition): Promise<SetResult> => {
    const write = async (opcode: number, cas?: Buffer): Promise<SetResult> => {
      const reply = await send(node.connection, opcode, key, expiration, value, cas);
      switch (reply.status) {
        case Status.ok:
          tokens.remember(key, node.name, reply.cas, value);
          return "ok";
        case Status.notFound:
          tokens.forget(key);
          return "missing";
        case Status.exists:
          return condition.kind === "version" ? "mismatch" : "exists";
        case Status.notStored:
          return opcode === Opcode.add ? "exists" : "missing";
        case Status.tooLarge:
          // memcached drops the item's old value when it refuses a SET: say so, and how to avoid it.
          throw tooLarge(`node ${node.name} refused the value as too large: its item size is below maxItemBytes (${resolved.maxItemBytes}), and it dropped the session's previous value; lower maxItemBytes to the server's -I so this is caught before sending`);
        default:
          throw statusError(reply.status, "a write", node.name);
      }
    };
    switch (condition.kind) {
      case "always":
        return write(Opcode.set);
      case "absent":
        return write(Opcode.add);
      case "exists":
        return write(Opcode.replace);
      case "version": {
        // Compare-and-set: replace only if the item is still the one whose version we compared; the
        // server checks the CAS token atomically. With the token of our own last read or write, that
        // is one round trip; a stale token ("exists") falls back to reading the current item.
        const known = tokens.tokenFor(key, node.name, condition.prefix);
        if (known !== undefined) {
          const result = await write(Opcode.replace, known);
          if (result !== "mismatch") return result;
        }
        const current = await send(node.connection, Opcode.get, key);
        if (current.status === Status.notFound) return "missing";
        if (current.status !== Status.ok) throw statusError(current.status, "a read", node.name);
        if (!current.value.toString("utf8").startsWith(condition.prefix)) return "mismatch";
        if (isZero(current.cas)) {
          throw new SessionStoreError("UNSUPPORTED", `memcached ${node.name} runs with CAS disabled (-C), so conditional updates cannot be honoured — restart it without -C`, { backend: label });
        }
        return write(Opcode.replace, current.cas);
      }
    }
  };

  return {
    label,
    capabilities: { scan: false, compareAndSet: true, userIndex: false, pubsub: false },

    configure(settings) {
      storeTimeoutMs = settings.timeoutMs;
      pool.setStoreTimeoutMs(settings.timeoutMs);
      // Half the store's deadline per node, so a hung node is detected and the next node still answers in time.
      pool.setTimeoutMs(resolved.nodeTimeoutMs ?? Math.max(1, Math.floor(settings.timeoutMs / 2)));
    },

    async get(key, getOptions, observer) {
      const k = encodeKey(key);
      const refresh = getOptions?.refreshTtlMs;
      // GAT reads and resets the expiration in one round trip (memcached's GETEX).
      const reply = await command(k, false, async (node) => {
        const answer = await (refresh === undefined ? send(node.connection, Opcode.get, k) : send(node.connection, Opcode.gat, k, expirationFor(refresh)));
        if (answer.status === Status.ok) tokens.remember(k, node.name, answer.cas, answer.value);
        return answer;
      }, observer);
      if (reply.status === Status.notFound) return null;
      if (reply.status !== Status.ok) throw statusError(reply.status, "a read", label);
      return reply.value.toString("utf8");
    },

    async set(key, value, ttlMs, condition = { kind: "always" }, observer) {
      const k = encodeKey(key);
      const bytes = Buffer.byteLength(value, "utf8") + k.length + ITEM_OVERHEAD_BYTES;
      if (bytes > resolved.maxItemBytes) throw tooLarge(`a session needing ${bytes} bytes does not fit memcached's item size (maxItemBytes ${resolved.maxItemBytes}); nothing was written`);
      const expiration = expirationFor(ttlMs);
      return command(k, true, (node) => conditionalSet(node, k, value, expiration, condition), observer);
    },

    async touch(key, ttlMs, observer) {
      const k = encodeKey(key);
      const reply = await command(k, true, (node) => send(node.connection, Opcode.touch, k, expirationFor(ttlMs)), observer);
      if (reply.status === Status.notFound) return false;
      if (reply.status !== Status.ok) throw statusError(reply.status, "a touch", label);
      return true;
    },

    async delete(keys, observer) {
      const replies = await Promise.all(
        keys.map((key) => {
          const k = encodeKey(key);
          tokens.forget(k);
          return command(k, true, (node) => send(node.connection, Opcode.delete, k), observer);
        }),
      );
      let count = 0;
      for (const reply of replies) {
        if (reply.status === Status.ok) count++;
        else if (reply.status !== Status.notFound) throw statusError(reply.status, "a delete", label);
      }
      return count;
    },

    // Memcached has no way to list keys, and flushing would wipe other applications' data too.
    // eslint-disable-next-line require-yield
    async *scan() {
      throw new SessionStoreError("UNSUPPORTED", `${label} cannot list keys (memcached has no SCAN), so sessions cannot be enumerated or cleared; they expire by TTL or are destroyed by id`, { backend: label });
    },

    // For backup tools only (see ../../tools.ts): memcached's own key listing, node by node.
    async *listWithExpiry(prefix, unlisted) {
      assertOpen();
      if (resolved.username !== undefined) {
        throw new SessionStoreError("UNSUPPORTED", `${label}: cannot list keys: with SASL memcached speaks only the binary protocol, and "lru_crawler metadump" is a text command; sessions expire by TTL or are destroyed by id`, { backend: label });
      }
      for (const node of resolved.nodes) yield* metadump({ ...node, tls: resolved.tls, idleTimeoutMs: Math.max(storeTimeoutMs, 1000) }, prefix, unlisted);
    },

    health: () => pool.health(),
    async ping() {
      assertOpen();
      await pool.ping();
    },

    async close() {
      closed = true;
      pool.close();
    },

    on: (event, listener) => events.on(event, listener),
  };
}
