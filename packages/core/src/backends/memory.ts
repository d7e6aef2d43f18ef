import type { Backend, SetCondition, SetResult, SubscriptionListener } from "../backend.js";
import { configError, SessionStoreError } from "../errors.js";
import { BackendEmitter } from "./emitter.js";

export interface MemoryBackendOptions {
  /** Most entries kept; when full, the entry closest to expiry is evicted. Default 100 000. */
  maxEntries?: number;
  /**
   * Most memory the stored keys and values may take, in bytes (counted as 2 bytes a character, what a
   * JavaScript string may need); past it the entries closest to expiry are evicted. Default 256 MiB.
   */
  maxMemoryBytes?: number;
  /** How often expired entries are swept in milliseconds (they are never returned either way). Default 10 000. */
  sweepIntervalMs?: number;
}

interface Entry {
  value: string;
  expiresAtMs: number;
}

// Taken when the module loads, so fake timers installed later by an application's tests do not hold the
// answers back: a server's answers are not faked either.
const answerLater = globalThis.setImmediate;
let turn: Promise<void> | undefined;

/**
 * Resolves in the event loop's next check phase, one timer for every operation of the current turn. The
 * backend does an operation's work when it is called and answers in that later turn, as a server would
 * (and as express-session's MemoryStore does). Answering in the same turn, through microtasks, made an
 * Express request run from the socket's data callback to its response in one go, which cost ~15–25 %
 * more CPU per changed session under load than this (bench, Express writes: 311–366 → 251–311 µs per
 * request; docs/benchmarks.md).
 */
function nextTurn(): Promise<void> {
  turn ??= new Promise<void>((resolve) => {
    answerLater(() => {
      turn = undefined;
      resolve();
    });
  });
  return turn;
}

/**
 * An in-process backend for development and tests: the same contract as Redis, real TTL expiry, expired
 * entries swept without waiting to be read, and bounds on the number of entries and on their memory. It is not shared
 * between processes — use Redis or Memcached for more than one instance.
 */
export function memoryBackend(options: MemoryBackendOptions = {}): Backend {
  const maxEntries = options.maxEntries ?? 100_000;
  if (!Number.isInteger(maxEntries) || maxEntries <= 0) throw configError("maxEntries", "a positive whole number", maxEntries);
  const maxMemoryBytes = options.maxMemoryBytes ?? 256 * 1024 * 1024;
  if (!Number.isInteger(maxMemoryBytes) || maxMemoryBytes <= 0) throw configError("maxMemoryBytes", "a positive whole number of bytes", maxMemoryBytes);
  const sweepIntervalMs = options.sweepIntervalMs ?? 10_000;
  if (!Number.isInteger(sweepIntervalMs) || sweepIntervalMs <= 0) throw configError("sweepIntervalMs", "a positive whole number of milliseconds", sweepIntervalMs);

  const entries = new Map<string, Entry>();
  let usedBytes = 0;
  const sizeOf = (key: string, value: string): number => 2 * (key.length + value.length);
  const remove = (key: string): boolean => {
    const entry = entries.get(key);
    if (entry === undefined) return false;
    usedBytes -= sizeOf(key, entry.value);
    return entries.delete(key);
  };
  const indexes = new Map<string, Map<string, number>>();
  const events = new BackendEmitter();
  const channels = new Map<string, Set<SubscriptionListener>>();
  let closed = false;

  const sweep = (): void => {
    const now = Date.now();
    for (const [key, entry] of entries) if (entry.expiresAtMs <= now) remove(key);
    for (const [key, members] of indexes) {
      for (const [member, expiresAtMs] of members) if (expiresAtMs <= now) members.delete(member);
      if (members.size === 0) indexes.delete(key);
    }
  };
  const timer = setInterval(sweep, sweepIntervalMs);
  timer.unref();

  const live = (key: string): Entry | undefined => {
    const entry = entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAtMs <= Date.now()) {
      remove(key);
      return undefined;
    }
    return entry;
  };

  const full = (newBytes: number): boolean => entries.size + 1 > maxEntries || usedBytes + newBytes > maxMemoryBytes;
  /** Frees room for one more entry of `bytes`: expired entries first, then those closest to expiry. */
  const makeRoom = (bytes: number): void => {
    if (!full(bytes)) return;
    sweep();
    while (entries.size > 0 && full(bytes)) {
      let victim: string | undefined;
      let soonest = Infinity;
      for (const [key, entry] of entries) {
        if (entry.expiresAtMs < soonest) {
          soonest = entry.expiresAtMs;
          victim = key;
        }
      }
      if (victim === undefined) return;
      remove(victim);
    }
  };

  const assertOpen = (): void => {
    if (closed) throw new SessionStoreError("CLOSED", "memory backend was closed", { backend: "memory" });
  };

  const conditionResult = (entry: Entry | undefined, condition: SetCondition): SetResult => {
    switch (condition.kind) {
      case "always":
        return "ok";
      case "absent":
        return entry === undefined ? "ok" : "exists";
      case "exists":
        return entry === undefined ? "missing" : "ok";
      case "version":
        if (entry === undefined) return "missing";
        return entry.value.startsWith(condition.prefix) ? "ok" : "mismatch";
    }
  };

  /** The whole of a conditional write, with no turn in between: the check and the write are one step. */
  const write = (key: string, value: string, ttlMs: number, condition: SetCondition): SetResult => {
    const existing = live(key);
    const result = conditionResult(existing, condition);
    if (result !== "ok") return result;
    const bytes = sizeOf(key, value);
    if (bytes > maxMemoryBytes) throw new SessionStoreError("TOO_LARGE", `memory: a value of ${bytes} bytes is more than maxMemoryBytes (${maxMemoryBytes}); nothing was written`, { backend: "memory" });
    if (existing !== undefined) remove(key);
    makeRoom(bytes);
    entries.set(key, { value, expiresAtMs: Date.now() + ttlMs });
    usedBytes += bytes;
    return "ok";
  };

  return {
    label: "memory",
    capabilities: { scan: true, compareAndSet: true, userIndex: true, pubsub: true },
    async get(key, getOptions) {
      assertOpen();
      const entry = live(key);
      if (entry !== undefined && getOptions?.refreshTtlMs !== undefined) entry.expiresAtMs = Date.now() + getOptions.refreshTtlMs;
      const value = entry === undefined ? null : entry.value;
      await nextTurn();
      return value;
    },
    async set(key, value, ttlMs, condition = { kind: "always" }) {
      assertOpen();
      const result = write(key, value, ttlMs, condition);
      await nextTurn();
      return result;
    },
    async touch(key, ttlMs) {
      assertOpen();
      const entry = live(key);
      if (entry !== undefined) entry.expiresAtMs = Date.now() + ttlMs;
      await nextTurn();
      return entry !== undefined;
    },
    async delete(keys) {
      assertOpen();
      let count = 0;
      for (const key of keys) if (live(key) !== undefined && remove(key)) count++;
      await nextTurn();
      return count;
    },
    async remainingTtl(key) {
      assertOpen();
      const entry = live(key);
      const left = entry === undefined ? null : entry.expiresAtMs - Date.now();
      await nextTurn();
      return left;
    },
    async *scan(prefix) {
      assertOpen();
      const batch: string[] = [];
      for (const key of [...entries.keys()]) {
        if (!key.startsWith(prefix) || live(key) === undefined) continue;
        batch.push(key);
        if (batch.length >= 100) yield batch.splice(0);
      }
      if (batch.length > 0) yield batch;
    },
    async ping() {
      assertOpen();
      await nextTurn();
    },
    async health() {
      assertOpen();
      return [{ node: "memory", role: "node", reachable: true, latencyMs: 0 }];
    },
    async close() {
      closed = true;
      clearInterval(timer);
      entries.clear();
      usedBytes = 0;
      indexes.clear();
      channels.clear();
    },
    on: (event, listener) => events.on(event, listener),
    // In-process pub/sub: every subscriber of this backend (one process) gets the message, a turn later
    // as it would from a server.
    async publish(channel, message) {
      assertOpen();
      const listeners = channels.get(channel);
      if (listeners !== undefined) for (const listener of [...listeners]) setImmediate(() => listeners.has(listener) && listener.message(message));
    },
    subscribe(channel, listener) {
      assertOpen();
      let listeners = channels.get(channel);
      if (listeners === undefined) channels.set(channel, (listeners = new Set()));
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0) channels.delete(channel);
      };
    },
    async indexAdd(indexKey, members) {
      assertOpen();
      let index = indexes.get(indexKey);
      if (index === undefined) indexes.set(indexKey, (index = new Map()));
      for (const { member, expiresAtMs } of members) index.set(member, expiresAtMs);
      await nextTurn();
    },
    async indexList(indexKey, nowMs) {
      assertOpen();
      const index = indexes.get(indexKey);
      const result: Array<{ member: string; expiresAtMs: number }> = [];
      if (index !== undefined) {
        for (const [member, expiresAtMs] of index) {
          if (expiresAtMs <= nowMs) index.delete(member);
          else result.push({ member, expiresAtMs });
        }
      }
      await nextTurn();
      return result;
    },
    async indexRemove(indexKey, members) {
      assertOpen();
      const index = indexes.get(indexKey);
      if (index !== undefined) {
        for (const member of members) index.delete(member);
        if (index.size === 0) indexes.delete(indexKey);
      }
      await nextTurn();
    },
  };
}
