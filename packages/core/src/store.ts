import { EventEmitter } from "node:events";
import type { Backend, SetCondition, SetResult } from "./backend.js";
import { isPlainObject, jsonSerializer, type Serializer } from "./codec.js";
import { withDeadline } from "./deadline.js";
import { isSessionStoreError, SessionStoreError } from "./errors.js";
import { assertValidId } from "./ids.js";
import { createKeyDeriver, type KeyDeriver } from "./keys.js";
import { resolveOptions, positiveInteger, type ResolvedOptions, type SessionStoreOptions } from "./options.js";
import { decodeRecord, encodeRecord, newVersion, versionPrefix, type BodyTransform, type SessionRecord } from "./record.js";
import { backendFromUrl } from "./url.js";

export type SessionData = Record<string, unknown>;

/** A session as read from the store, with the metadata adapters need to write it back safely. */
export interface LoadedSession<T extends object = SessionData> extends SessionRecord<T> {
  id: string;
  /** True when this read already reset the TTL (so an adapter can skip the framework's touch). */
  refreshed: boolean;
}

export interface WriteOptions {
  /** Idle timeout of this session in ms. Default: the store's `ttlMs`. */
  ttlMs?: number;
  /** Tag the session with its user (per-user index). */
  userId?: string;
  /** Small string facts shown on "active sessions" pages (user agent, IP). */
  meta?: Record<string, string>;
}

export interface SaveOptions extends WriteOptions {
  /**
   * The session as this request loaded it, or null for a session this request created. With it the
   * write is conditional: a session destroyed meanwhile (logout, revocation) is not written back, and
   * concurrent changes to other fields are merged instead of lost.
   */
  previous: LoadedSession<object> | null;
}

/**
 * What a `save` did:
 * - `written`: the record now holds this request's changes (merged with concurrent ones if needed);
 * - `unchanged`: nothing differed from `previous`, nothing was written;
 * - `gone`: the session was destroyed while this request ran; it stays destroyed.
 */
export type SaveOutcome =
  | { status: "written"; session: LoadedSession<SessionData>; merged: boolean }
  | { status: "unchanged"; session: LoadedSession<SessionData> }
  | { status: "gone" };

export interface StoreEvents {
  error: [SessionStoreError];
  unavailable: [SessionStoreError];
  available: [];
  /** A stored value could not be decoded; `get` answered "no session". */
  corrupt: [SessionStoreError];
  /** Two requests changed the same fields of one session at once; the later write won those fields. */
  conflict: [{ fields: string[] }];
}

export interface SessionStore<T extends object = SessionData> {
  readonly backend: Backend;
  readonly options: Readonly<ResolvedOptions>;
  /** The session's data, or null when there is none (missing, expired, past its lifetime, corrupt). */
  get(id: string, options?: { ttlMs?: number }): Promise<T | null>;
  /** Like get, with the record's metadata (creation, expiry, version). */
  load(id: string, options?: { ttlMs?: number }): Promise<LoadedSession<T> | null>;
  /** Writes the session unconditionally (a new record, new creation time unless the session existed is not checked). */
  set(id: string, data: T, options?: WriteOptions & { createdAtMs?: number }): Promise<void>;
  /** Conditional, merging write for adapters: see SaveOptions. */
  save(id: string, data: T, options: SaveOptions): Promise<SaveOutcome>;
  /** Resets the session's TTL. Resolves false when there is no such session. */
  touch(id: string, options?: { ttlMs?: number }): Promise<boolean>;
  destroy(id: string): Promise<void>;
  /** Every session id under the prefix (the HMAC of each id when keys are hashed). */
  ids(): AsyncIterable<string>;
  length(): Promise<number>;
  /** Deletes every session under the prefix (never anything else). */
  clear(): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
  on<E extends keyof StoreEvents>(event: E, listener: (...args: StoreEvents[E]) => void): this;
  off<E extends keyof StoreEvents>(event: E, listener: (...args: StoreEvents[E]) => void): this;
  once<E extends keyof StoreEvents>(event: E, listener: (...args: StoreEvents[E]) => void): this;
}

const MAX_MERGE_ATTEMPTS = 5;

class Store extends EventEmitter implements SessionStore<SessionData> {
  readonly backend: Backend;
  readonly options: Readonly<ResolvedOptions>;
  private readonly keys: KeyDeriver;
  private readonly serializer: Serializer;
  private readonly transform: BodyTransform | undefined;
  private closed = false;
  private available = true;
  private readonly unsubscribe: Array<() => void>;

  constructor(options: SessionStoreOptions) {
    super();
    this.options = Object.freeze(resolveOptions(options));
    this.serializer = options.serializer ?? jsonSerializer;
    this.transform = undefined;
    this.keys = createKeyDeriver(this.options.prefix);
    this.backend = options.backend ?? backendFromUrl(options.url as string);
    this.backend.configure?.({ timeoutMs: this.options.timeoutMs });
    this.unsubscribe = [
      this.backend.on("unavailable", (error) => this.markUnavailable(error)),
      this.backend.on("available", () => this.markAvailable()),
      this.backend.on("error", (error) => this.report(this.wrap(error, "background"))),
    ];
  }

  // ---- reads -------------------------------------------------------------------------------------

  async get(id: string, options?: { ttlMs?: number }): Promise<SessionData | null> {
    const loaded = await this.load(id, options);
    return loaded ? loaded.data : null;
  }

  async load(id: string, options?: { ttlMs?: number }): Promise<LoadedSession | null> {
    assertValidId(id);
    this.assertOpen();
    const hintTtl = options?.ttlMs === undefined ? this.options.ttlMs : positiveInteger("ttlMs", options.ttlMs);
    const key = this.keys.key(id);
    const lazy = this.options.touchAfterMs > 0;
    const refreshTtlMs = lazy ? undefined : hintTtl;
    const text = await this.run("get", () => this.backend.get(key, refreshTtlMs === undefined ? undefined : { refreshTtlMs }));
    const now = Date.now();
    if (text === null) return null;
    const record = decodeRecord(text, key, this.serializer, this.transform);
    if (record === null) {
      this.emitSafely("corrupt", new SessionStoreError("CORRUPT", `${this.backend.label}: a stored session could not be decoded; treated as no session`, { backend: this.backend.label }));
      return null;
    }
    const lifetimeLeft = this.lifetimeLeft(record.createdAtMs, now);
    if (lifetimeLeft <= 0 || (lazy && record.expiresAtMs <= now)) {
      await this.run("delete", () => this.backend.delete([key]));
      return null;
    }
    const wantTtl = Math.min(record.ttlMs, lifetimeLeft);
    const loaded: LoadedSession = { ...record, id, refreshed: false };
    if (!lazy) {
      // The read already reset the TTL to the hint; correct it when this session's own TTL differs
      // (a "remember me" session, or one close to its absolute lifetime).
      if (wantTtl !== refreshTtlMs) await this.run("touch", () => this.backend.touch(key, wantTtl));
      loaded.expiresAtMs = now + wantTtl;
      loaded.refreshed = true;
    } else if (record.expiresAtMs - now < wantTtl - this.options.touchAfterMs) {
      // Lazy touch is due: rewrite the record with its new expiry, only if nobody changed it meanwhile.
      const refreshed: SessionRecord = { ...record, expiresAtMs: now + wantTtl };
      const result = await this.write(key, refreshed, wantTtl, { kind: "version", prefix: versionPrefix(record.version) }).catch((error: unknown) => {
        this.report(this.wrap(error, "touch"));
        return "failed" as const;
      });
      if (result === "ok") {
        loaded.expiresAtMs = refreshed.expiresAtMs;
        loaded.refreshed = true;
      }
    } else {
      loaded.refreshed = true; // fresh enough: nothing to do for this read
    }
    return loaded;
  }

  // ---- writes ------------------------------------------------------------------------------------

  async set(id: string, data: SessionData, options: WriteOptions & { createdAtMs?: number } = {}): Promise<void> {
    assertValidId(id);
    this.assertOpen();
    assertData(data);
    const now = Date.now();
    const createdAtMs = options.createdAtMs ?? now;
    const ttl = this.ttlFor(options.ttlMs, createdAtMs, now);
    if (ttl <= 0) {
      await this.destroy(id);
      return;
    }
    const record = this.newRecord(data, createdAtMs, now, ttl, options);
    await this.write(this.keys.key(id), record, ttl, { kind: "always" });
  }

  async save(id: string, data: SessionData, options: SaveOptions): Promise<SaveOutcome> {
    assertValidId(id);
    this.assertOpen();
    assertData(data);
    const key = this.keys.key(id);
    const previous = options.previous;
    const now = Date.now();
    const createdAtMs = previous?.createdAtMs ?? now;
    const ttl = this.ttlFor(options.ttlMs ?? previous?.ttlMs, createdAtMs, now);
    if (ttl <= 0) {
      await this.destroy(id);
      return { status: "gone" };
    }
    const delta = diff(previous?.data ?? {}, data);
    const metaChanged = previous !== null && ((options.userId !== undefined && options.userId !== previous.userId) || (options.meta !== undefined && JSON.stringify(options.meta) !== JSON.stringify(previous.meta)) || (options.ttlMs !== undefined && options.ttlMs !== previous.ttlMs));
    if (previous !== null && delta.set.length === 0 && delta.unset.length === 0 && !metaChanged) {
      return { status: "unchanged", session: { ...(previous as LoadedSession), id } };
    }
    const base: Omit<SessionRecord, "data" | "version"> = {
      createdAtMs,
      expiresAtMs: now + ttl,
      ttlMs: options.ttlMs ?? previous?.ttlMs ?? ttl,
      ...(options.userId ?? previous?.userId) !== undefined ? { userId: (options.userId ?? previous?.userId) as string } : {},
      ...(options.meta ?? previous?.meta) !== undefined ? { meta: (options.meta ?? previous?.meta) as Record<string, string> } : {},
    };
    let record: SessionRecord = { ...base, data, version: newVersion() };
    let condition: SetCondition = previous === null ? { kind: "absent" } : this.updateCondition(previous.version);
    let merged = false;
    for (let attempt = 1; ; attempt++) {
      const result = await this.write(key, record, ttl, condition);
      if (result === "ok") return { status: "written", session: { ...record, id, refreshed: true }, merged };
      // Someone else wrote or destroyed the session while this request ran.
      const current = await this.loadRaw(key);
      if (current === null) {
        if (previous === null && result === "exists") continue; // it vanished between our write and read: retry the create
        return { status: "gone" };
      }
      if (attempt >= MAX_MERGE_ATTEMPTS) {
        throw new SessionStoreError("CONFLICT", `${this.backend.label}: a session changed ${attempt} times while one request tried to save it; the save was abandoned`, { backend: this.backend.label });
      }
      const clashes = [...delta.set, ...delta.unset].filter((field) => previous !== null && !sameValue(current.data[field], previous.data[field as keyof object]));
      if (clashes.length > 0) this.emitSafely("conflict", { fields: clashes });
      record = { ...base, createdAtMs: current.createdAtMs, userId: base.userId ?? current.userId, data: applyDelta(current.data, data, delta), version: newVersion() } as SessionRecord;
      if (record.userId === undefined) delete record.userId;
      if (base.meta === undefined && current.meta !== undefined) record.meta = current.meta;
      condition = this.updateCondition(current.version);
      merged = true;
    }
  }

  async touch(id: string, options?: { ttlMs?: number }): Promise<boolean> {
    assertValidId(id);
    this.assertOpen();
    const ttl = options?.ttlMs === undefined ? this.options.ttlMs : positiveInteger("ttlMs", options.ttlMs);
    return this.run("touch", () => this.backend.touch(this.keys.key(id), ttl));
  }

  async destroy(id: string): Promise<void> {
    assertValidId(id);
    this.assertOpen();
    await this.run("delete", () => this.backend.delete([this.keys.key(id)]));
  }

  // ---- listing -----------------------------------------------------------------------------------

  async *ids(): AsyncIterable<string> {
    this.assertOpen();
    this.assertCanScan("ids");
    const iterator = this.backend.scan(this.keys.prefix)[Symbol.asyncIterator]();
    for (;;) {
      const step = await this.run("scan", () => iterator.next());
      if (step.done) return;
      for (const key of step.value) yield this.keys.idOf(key);
    }
  }

  async length(): Promise<number> {
    let count = 0;
    for await (const _ of this.ids()) count++;
    return count;
  }

  async clear(): Promise<void> {
    this.assertOpen();
    this.assertCanScan("clear");
    const iterator = this.backend.scan(this.keys.prefix)[Symbol.asyncIterator]();
    for (;;) {
      const step = await this.run("scan", () => iterator.next());
      if (step.done) return;
      if (step.value.length > 0) await this.run("delete", () => this.backend.delete(step.value));
    }
  }

  async ping(): Promise<void> {
    this.assertOpen();
    await this.run("ping", () => this.backend.ping());
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const off of this.unsubscribe) off();
    await withDeadline(this.backend.close(), this.options.timeoutMs, "close", this.backend.label).catch(() => undefined);
  }

  // ---- internals ---------------------------------------------------------------------------------

  private updateCondition(version: string): SetCondition {
    return this.backend.capabilities.compareAndSet ? { kind: "version", prefix: versionPrefix(version) } : { kind: "exists" };
  }

  private newRecord(data: SessionData, createdAtMs: number, now: number, ttl: number, options: WriteOptions): SessionRecord {
    const record: SessionRecord = { data, createdAtMs, expiresAtMs: now + ttl, ttlMs: options.ttlMs ?? ttl, version: newVersion() };
    if (options.userId !== undefined) record.userId = options.userId;
    if (options.meta !== undefined) record.meta = options.meta;
    return record;
  }

  private async loadRaw(key: string): Promise<SessionRecord | null> {
    const text = await this.run("get", () => this.backend.get(key));
    if (text === null) return null;
    return decodeRecord(text, key, this.serializer, this.transform);
  }

  private async write(key: string, record: SessionRecord, ttl: number, condition: SetCondition): Promise<SetResult> {
    let text: string;
    try {
      text = encodeRecord(record, key, this.serializer, this.transform);
    } catch (error) {
      throw new SessionStoreError("CONFIG", "the session could not be serialized (is it a plain JSON object without cycles or BigInt?)", { cause: error });
    }
    const bytes = Buffer.byteLength(text, "utf8");
    if (bytes > this.options.maxBytes) {
      throw new SessionStoreError("TOO_LARGE", `a session of ${bytes} bytes exceeds maxBytes (${this.options.maxBytes}); nothing was written — keep large data out of the session`, { backend: this.backend.label });
    }
    return this.run("set", () => this.backend.set(key, text, ttl, condition));
  }

  private ttlFor(requested: number | undefined, createdAtMs: number, now: number): number {
    const ttl = requested === undefined ? this.options.ttlMs : requested;
    if (typeof ttl !== "number" || !Number.isFinite(ttl)) throw new SessionStoreError("CONFIG", `ttlMs must be a number of milliseconds (got ${typeof ttl})`);
    return Math.min(Math.floor(ttl), this.lifetimeLeft(createdAtMs, now));
  }

  private lifetimeLeft(createdAtMs: number, now: number): number {
    return this.options.maxLifetimeMs === undefined ? Number.MAX_SAFE_INTEGER : createdAtMs + this.options.maxLifetimeMs - now;
  }

  private assertCanScan(what: string): void {
    if (!this.backend.capabilities.scan) {
      throw new SessionStoreError("UNSUPPORTED", `${this.backend.label} cannot list keys, so ${what}() is not available; expire sessions by TTL, or destroy them by id`, { backend: this.backend.label });
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new SessionStoreError("CLOSED", "the session store was closed");
  }

  /** Runs one backend operation under the store's deadline and maps every failure to a SessionStoreError. */
  private async run<R>(what: string, operation: () => Promise<R>): Promise<R> {
    try {
      const result = await withDeadline(Promise.resolve().then(operation), this.options.timeoutMs, what, this.backend.label);
      return result;
    } catch (error) {
      const wrapped = this.wrap(error, what);
      if (wrapped.code === "UNAVAILABLE" || wrapped.code === "TIMEOUT") this.markUnavailable(wrapped);
      throw wrapped;
    }
  }

  private wrap(error: unknown, what: string): SessionStoreError {
    if (isSessionStoreError(error)) return error;
    const message = error instanceof Error ? error.message : "unknown error";
    return new SessionStoreError("BACKEND", `${this.backend.label}: ${what} failed: ${message}`, { cause: error, backend: this.backend.label });
  }

  private markUnavailable(error: Error): void {
    if (!this.available) return;
    this.available = false;
    this.emitSafely("unavailable", this.wrap(error, "connection"));
  }

  private markAvailable(): void {
    if (this.available) return;
    this.available = true;
    this.emitSafely("available");
  }

  private report(error: SessionStoreError): void {
    if (this.listenerCount("error") > 0) this.emit("error", error);
  }

  /** Events never throw into the store: an 'error' with no listener is dropped, a throwing listener is contained. */
  private emitSafely(event: keyof StoreEvents, ...args: unknown[]): void {
    if (event === "error" && this.listenerCount("error") === 0) return;
    try {
      this.emit(event, ...args);
    } catch (error) {
      if (event !== "error") this.report(this.wrap(error, `a '${event}' listener`));
    }
  }
}

export function createSessionStore<T extends object = SessionData>(options: SessionStoreOptions): SessionStore<T> {
  return new Store(options) as unknown as SessionStore<T>;
}

// ---- data helpers ----------------------------------------------------------------------------------

function assertData(data: unknown): asserts data is SessionData {
  if (!isPlainObject(data)) throw new SessionStoreError("CONFIG", "session data must be a plain JSON object");
}

interface Delta {
  set: string[];
  unset: string[];
}

/** Top-level fields that differ between two versions of the session data. */
export function diff(before: object, after: object): Delta {
  const b = before as Record<string, unknown>;
  const a = after as Record<string, unknown>;
  const set = Object.keys(a).filter((field) => !Object.hasOwn(b, field) || !sameValue(a[field], b[field]));
  const unset = Object.keys(b).filter((field) => !Object.hasOwn(a, field));
  return { set, unset };
}

function applyDelta(current: SessionData, mine: SessionData, delta: Delta): SessionData {
  const result: SessionData = { ...current };
  for (const field of delta.set) result[field] = mine[field];
  for (const field of delta.unset) delete result[field];
  return result;
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  return JSON.stringify(a) === JSON.stringify(b);
}
