import { EventEmitter } from "node:events";
import { performance } from "node:perf_hooks";
import type { Backend, CommandObserver, NodeHealth, SetCondition, SetResult } from "./backend.js";
import { isPlainObject, jsonSerializer, type Serializer } from "./codec.js";
import { createEncryption } from "./crypto.js";
import { Deadlines, withDeadline } from "./deadline.js";
import { settleBudget, takeBudgetDeadline, type BudgetDeadline } from "./request-budget.js";
import { MAX_DEPTH, tooDeep } from "./depth.js";
import { isSessionStoreError, SessionStoreError } from "./errors.js";
import { assertValidId } from "./ids.js";
import { registerInternals } from "./internals.js";
import { promiseOf } from "./promise-of.js";
import { createKeyDeriver, USER_INDEX_MARK, type KeyDeriver } from "./keys.js";
import { resolveOptions, type ResolvedOptions, type SessionStoreOptions } from "./options.js";
import { dataJson, encodeBody, encodeJsonBody, mayBeReordered, newVersion, openBody, parseBody, peekVersion, sameJsonData, sealedBody, sealRecord, versionPrefix, type BodyTransform, type SessionRecord } from "./record.js";
import { bodyOf, rememberBody, StoredSession } from "./snapshot.js";
import { createMigrationSource } from "./migrate/options.js";
import type { MigrationSource, SourceSession } from "./migrate/source.js";
import { backendTtlMs, storedTtlMs, ttlMsOption } from "./ttl.js";
import { availabilityChannel, isTraced, trace, tracingChannels, type AvailabilityMessage, type OperationContext, type OperationOutcome, type TracedOperation } from "./tracing.js";
import { backendFromUrl } from "./url.js";
import { UserIndex, type UserSession } from "./users.js";

export type SessionData = Record<string, unknown>;

/** A session as read from the store, with the metadata adapters need to write it back safely. */
export interface LoadedSession<T extends object = SessionData> extends SessionRecord<T> {
  id: string;
  /** True when this read already reset the TTL (so an adapter can skip the framework's touch). */
  refreshed: boolean;
  /**
   * The expiry the record was last written with, before this read slid it (epoch ms): when a cookie sent
   * with that write expires. koa-session's `renew` compares against it. Set by `load`.
   */
  writtenExpiresAtMs?: number;
}

export interface WriteOptions {
  /** Idle timeout of this session in ms. Default: the store's `ttlMs`. */
  ttlMs?: number;
  /**
   * Tag the session with its user (per-user index). Default: what the store's `userIdFrom(data)`
   * returns, else the user the session already had.
   */
  userId?: string;
  /**
   * Small string facts shown on "active sessions" pages (user agent, IP). Stored whenever the session is
   * written; a change of meta alone does not cause a write (so a roaming IP does not rewrite every request).
   */
  meta?: Record<string, string>;
  /**
   * The framework's cookie for this session has no expiry (a browser-session cookie): stored with the
   * session so every adapter rebuilds that cookie when it reads the session back. Default: what the
   * session had (false for a new one).
   */
  browserSession?: boolean;
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
  /** A stored value could not be decoded (or decrypted); `get` answered "no session". */
  corrupt: [SessionStoreError];
  /** Two requests changed the same fields of one session at once; the later write won those fields. */
  conflict: [{ fields: string[] }];
}

export type { UserSession } from "./users.js";

/** What `health()` found: the store can serve (`ok`) and the state of every node. */
export interface StoreHealth {
  /**
   * The store can serve every session it holds — what `ping()` resolving means: every primary (Redis,
   * each Cluster master) or every node (Memcached) answered. A replica that is down leaves `ok` true:
   * reads go to the primary.
   */
  ok: boolean;
  /** `redis`, `memcached` or `memory`. */
  system: string;
  /** The backend's label (hosts and ports, never credentials): for operators, not for public pages. */
  backend: string;
  nodes: NodeHealth[];
}

/**
 * What `migrate(id)` did:
 * - `moved`: the session now lives in this store (the source's copy is deleted unless `keepSource`);
 * - `present`: this store already had it (moved before, or by a concurrent request); a leftover source
 *   copy is deleted unless `keepSource`;
 * - `absent`: neither has it;
 * - `expired`: the source's copy is past its expiry (left to its own TTL);
 * - `unreadable`: the source's value does not parse or is not a session of its format (left alone);
 * - `gone`: the source's copy was deleted (a logout) while it was being moved: it stays deleted.
 */
export type MigrateOutcome = "moved" | "present" | "absent" | "expired" | "unreadable" | "gone";

export interface SessionStore<T extends object = SessionData> {
  readonly backend: Backend;
  readonly options: Readonly<ResolvedOptions>;
  /** The session's data, or null when there is none (missing, expired, past its lifetime, corrupt). */
  get(id: string, options?: { ttlMs?: number }): Promise<T | null>;
  /** Like get, with the record's metadata (creation, expiry, version). */
  load(id: string, options?: { ttlMs?: number }): Promise<LoadedSession<T> | null>;
  /** Writes the session unconditionally (a new record; creation time `createdAtMs` or now). */
  set(id: string, data: T, options?: WriteOptions & { createdAtMs?: number }): Promise<void>;
  /** Conditional, merging write for adapters: see SaveOptions. */
  save(id: string, data: T, options: SaveOptions): Promise<SaveOutcome>;
  /**
   * Slides the session's expiry (idle timeout), within its absolute lifetime. Resolves false when there
   * is no such session. `ttlMs` is used only for a session that has no TTL of its own.
   */
  touch(id: string, options?: { ttlMs?: number }): Promise<boolean>;
  /** Destroys the session (and, with `migrateFrom`, the source's copy). Resolves true when a copy was there. */
  destroy(id: string): Promise<boolean>;
  /**
   * With `migrateFrom`: moves the session `id` from the source now, without sliding its TTL (for bulk
   * tools such as `sessionbridge migrate`). See {@link MigrateOutcome}. Rejects CONFIG without `migrateFrom`.
   */
  migrate(id: string): Promise<MigrateOutcome>;
  /** The source of `migrateFrom` (list the sessions still to move with `ids()`), or undefined. */
  readonly migrateSource: MigrationSource | undefined;
  /** Every session id under the prefix. With hashed keys (`keySecret`), the HMACs: not usable as ids. */
  ids(): AsyncIterable<string>;
  length(): Promise<number>;
  /** Deletes every session under the prefix and the per-user index (never anything else). */
  clear(): Promise<void>;
  /** The user's live sessions, most recently seen first. UNSUPPORTED on a backend without a user index. */
  sessionsOf(userId: string): Promise<UserSession[]>;
  /** Destroys every session of the user, except the ids in `except` (e.g. the current one). Resolves how many. */
  destroySessionsOf(userId: string, options?: { except?: string | readonly string[] }): Promise<number>;
  /** Destroys one session of the user by its handle (from `sessionsOf`). Resolves false when none matched. */
  destroySessionOf(userId: string, handle: string): Promise<boolean>;
  /** The handle `sessionsOf` shows for a session id (to mark "this device"). */
  handleOf(id: string): string;
  /**
   * Resolves when the store can serve every session it holds (Redis: the primary answers; Memcached:
   * every node answers), else rejects with UNAVAILABLE / TIMEOUT naming what is down. One command per node.
   */
  ping(): Promise<void>;
  /**
   * Every node of the backend — reachable, role, PING latency, why it is down, a read replica's lag —
   * within `timeoutMs`; never rejects for a down backend (it is `ok: false` then). See StoreHealth.
   */
  health(): Promise<StoreHealth>;
  close(): Promise<void>;
  on<E extends keyof StoreEvents>(event: E, listener: (...args: StoreEvents[E]) => void): this;
  off<E extends keyof StoreEvents>(event: E, listener: (...args: StoreEvents[E]) => void): this;
  once<E extends keyof StoreEvents>(event: E, listener: (...args: StoreEvents[E]) => void): this;
}

/**
 * A save merges and retries while other requests keep winning the compare-and-set: each round at least
 * one writer wins, so N concurrent writers need at most N rounds. It gives up (CONFLICT) after this many
 * rounds or once `timeoutMs` has passed since the save began, whichever comes first.
 */
const MAX_MERGE_ATTEMPTS = 32;
const MAX_USER_ID_LENGTH = 1024;
/** What `find` reads for a key holding a value of another type. */
const CORRUPT_VALUE = Symbol("corrupt value");

/** What `migrate` did, as a tracing outcome. */
const MIGRATE_OUTCOMES: { readonly [M in MigrateOutcome]: OperationOutcome } = { moved: "written", present: "hit", absent: "miss", expired: "expired", unreadable: "corrupt", gone: "gone" };

/** Where `find` located a session: its key and decoded record (null when it did not decode). */
interface Found {
  key: string;
  /** The stored value as read (for its size in tracing contexts), when this lookup read it. */
  text?: string;
  record: SessionRecord | null;
  /** The TTL this lookup already gave the key, when it did. */
  ttlSetMs: number | undefined;
  /** The record opened but is sealed with an older encryption key (or not at all): seal it again. */
  stale?: boolean;
  /** The plaintext body the record was parsed from (the session's pristine state, see snapshot.ts). */
  body?: string;
}

class Store extends EventEmitter implements SessionStore<SessionData> {
  readonly backend: Backend;
  readonly options: Readonly<ResolvedOptions>;
  private readonly keys: KeyDeriver;
  private readonly serializer: Serializer;
  private readonly transform: BodyTransform | undefined;
  private readonly userIdFrom: ((data: SessionData) => unknown) | undefined;
  private readonly users: UserIndex;
  private readonly deadlines: Deadlines;
  readonly migrateSource: MigrationSource | undefined;
  private closed = false;
  /** Operations started and not yet settled: close() lets them finish before it closes the backend. */
  private pending = 0;
  private drained: (() => void) | undefined;
  private closing: Promise<void> | undefined;
  private available = true;
  /** The backend's kind for tracing contexts (`redis`, `memcached`, `memory`). */
  private readonly system: string;
  private readonly unsubscribe: Array<() => void>;

  constructor(options: SessionStoreOptions) {
    super();
    this.options = Object.freeze(resolveOptions(options));
    this.serializer = options.serializer ?? jsonSerializer;
    this.transform = options.encryptionKeys === undefined ? undefined : createEncryption({ keys: options.encryptionKeys, allowUnencryptedReads: options.allowUnencryptedReads ?? false });
    this.keys = createKeyDeriver(this.options.prefix, options.keySecret);
    this.userIdFrom = options.userIdFrom;
    this.backend = options.backend ?? backendFromUrl(options.url as string);
    this.deadlines = new Deadlines(this.options.timeoutMs, this.backend.label);
    this.system = this.backend.label.split(" ")[0] ?? this.backend.label;
    this.users = new UserIndex({
      backend: this.backend,
      keys: this.keys,
      run: (what, operation) => this.run(what, operation),
      readRecord: (key) => this.loadRaw(key),
      deleteKeys: (keys) => this.deleteKeys(keys),
      corrupt: (error) => this.emitSafely("corrupt", error),
    });
    if (this.options.maxSessionsPerUser !== undefined && !this.users.supported) {
      throw new SessionStoreError("CONFIG", `option "maxSessionsPerUser" needs a backend with a per-user index (memory, Redis); ${this.backend.label} has none`);
    }
    this.backend.configure?.({ timeoutMs: this.options.timeoutMs });
    // For the operator tools (tools.ts: export / import), without widening the public API.
    registerInternals(this, { keys: this.keys, serializer: this.serializer, transform: this.transform, run: (what, operation) => this.run(what, operation), index: async (key, record) => this.indexBeforeWrite(key, record, undefined) });
    // Last among the checks: a source may open its own connections (migrateFrom.url / servers).
    this.migrateSource = options.migrateFrom === undefined ? undefined : createMigrationSource(options.migrateFrom, { backend: this.backend, prefix: this.options.prefix, ttlMs: this.options.ttlMs, timeoutMs: this.options.timeoutMs });
    this.unsubscribe = [
      this.backend.on("unavailable", (error) => this.markUnavailable(error)),
      this.backend.on("available", () => this.markAvailable()),
      this.backend.on("error", (error) => this.report(this.wrap(error, "background"))),
    ];
  }

  // ---- the operations a request makes ------------------------------------------------------------

  // The operations a request makes (get, load, touch, set, save, destroy, ping) each run under one
  // deadline, `timeoutMs`, however many backend commands they need (see `operation`).

  get(id: string, options?: { ttlMs?: number }): Promise<SessionData | null> {
    return this.operation("get", (traced) => this.loadSession(id, options, traced)).then((loaded) => (loaded ? loaded.data : null));
  }

  load(id: string, options?: { ttlMs?: number }): Promise<LoadedSession | null> {
    return this.operation("get", (traced) => this.loadSession(id, options, traced));
  }

  touch(id: string, options?: { ttlMs?: number }): Promise<boolean> {
    // Through load, so a touch obeys everything a read does: the absolute lifetime, the session's own
    // TTL, older key secrets and the per-user index. On Redis it is still one round trip (GETEX).
    return this.operation("touch", (traced) => this.loadSession(id, options, traced)).then((loaded) => loaded !== null);
  }

  set(id: string, data: SessionData, options: WriteOptions & { createdAtMs?: number } = {}): Promise<void> {
    return this.operation("set", (traced) => this.setSession(id, data, wholeTtl(options), traced));
  }

  save(id: string, data: SessionData, options: SaveOptions): Promise<SaveOutcome> {
    // With the default serializer the data is stringified once, here: that text tells an unchanged
    // session and is the body a write sends.
    const dataText = this.serializer === jsonSerializer && isPlainObject(data) ? jsonOrUndefined(data) : undefined;
    const body = dataText === undefined || options?.previous == null ? undefined : bodyOf(options.previous);
    const sameData = body !== undefined && sameJsonData(body, dataText as string);
    const unchanged = sameData ? this.unchangedSave(id, data, body, options) : undefined;
    if (unchanged !== undefined) {
      takeBudgetDeadline(); // answered at once: no deadline to run under
      return Promise.resolve(unchanged);
    }
    return this.operation("save", (traced) => this.saveSession(id, data, wholeTtl(options), traced, dataText === undefined ? undefined : { text: dataText, sameAsBody: sameData }));
  }

  destroy(id: string): Promise<boolean> {
    return this.operation("destroy", async (traced) => {
      assertValidId(id);
      this.assertOpen();
      // Under every secret: a session may still live under an older one (key rotation). And in the
      // migration source: a kept (or not yet moved) copy must not bring a logged-out session back.
      const source = this.migrateSource;
      const [deleted, removed] = await Promise.all([this.deleteKeys(this.keysOf(id), traced), source === undefined ? false : this.runSource(() => source.remove(id))]);
      if (traced !== undefined) traced.outcome = deleted > 0 || removed ? "hit" : "miss";
      return deleted > 0 || removed;
    });
  }

  migrate(id: string): Promise<MigrateOutcome> {
    return this.operation("migrate", async (traced) => {
      assertValidId(id);
      this.assertOpen();
      const source = this.migrateSource;
      if (source === undefined) throw new SessionStoreError("CONFIG", 'migrate(id) needs the store option "migrateFrom"');
      const key = this.keysOf(id)[0];
      let outcome: MigrateOutcome;
      if ((await this.run("get", () => this.backend.get(key, undefined, traced))) !== null) {
        if (!source.keepSource) await this.runSource(() => source.remove(id));
        outcome = "present";
      } else outcome = (await this.takeOver(id, key, false, traced)).outcome;
      if (traced !== undefined) traced.outcome = MIGRATE_OUTCOMES[outcome];
      return outcome;
    });
  }

  // ---- reads -------------------------------------------------------------------------------------

  private async loadSession(id: string, options: { ttlMs?: number } | undefined, traced: OperationContext | undefined): Promise<LoadedSession | null> {
    assertValidId(id);
    this.assertOpen();
    const hintTtl = options?.ttlMs === undefined ? this.options.ttlMs : ttlMsOption("ttlMs", options.ttlMs);
    const lazy = this.options.touchAfterMs > 0;
    const found = await this.find(id, lazy ? undefined : hintTtl, traced);
    const now = Date.now();
    if (found === null) {
      if (traced !== undefined) traced.outcome = "miss";
      return null;
    }
    const { key, record } = found;
    if (traced !== undefined) {
      traced.outcome = record === null ? "corrupt" : "hit";
      if (found.text !== undefined) traced.bytes = Buffer.byteLength(found.text, "utf8");
    }
    if (record === null) {
      this.emitSafely("corrupt", new SessionStoreError("CORRUPT", `${this.backend.label}: a stored session could not be decoded or decrypted; treated as no session`, { backend: this.backend.label }));
      return null;
    }
    const lifetimeLeft = this.lifetimeLeft(record.createdAtMs, now);
    if (lifetimeLeft <= 0 || (lazy && record.expiresAtMs <= now)) {
      if (traced !== undefined) traced.outcome = "expired";
      await this.run("delete", () => this.backend.delete([key], traced));
      return null;
    }
    const wantTtl = Math.min(record.ttlMs, lifetimeLeft);
    const loaded = loadedSession(record, id, false, record.expiresAtMs);
    if (found.body !== undefined) rememberBody(loaded, found.body);
    if (!lazy) {
      // The read already reset the TTL to the hint; correct it when this session's own TTL differs
      // (a "remember me" session, or one close to its absolute lifetime).
      if (wantTtl !== found.ttlSetMs) await this.command("touch", () => this.backend.touch(key, backendTtlMs(wantTtl), traced));
      loaded.expiresAtMs = now + wantTtl;
      loaded.refreshed = true;
      // The TTL slid without a write: move the per-user index entry before the session can outlive it.
      // A record sealed with an older key is sealed again, so key rotation ends.
      if (found.stale === true || (this.users.supported && UserIndex.due(record, now + wantTtl))) await this.refresh(key, record, loaded, now, wantTtl, traced);
    } else if (found.stale === true || record.expiresAtMs - now < wantTtl - this.options.touchAfterMs || (this.users.supported && UserIndex.due(record, record.expiresAtMs))) {
      // Lazy touch is due: rewrite the record with its new expiry, only if nobody changed it meanwhile.
      await this.refresh(key, record, loaded, now, wantTtl, traced);
    } else {
      loaded.refreshed = true; // fresh enough: nothing to do for this read
    }
    return loaded;
  }

  // ---- writes ------------------------------------------------------------------------------------

  private async setSession(id: string, data: SessionData, options: WriteOptions & { createdAtMs?: number }, traced: OperationContext | undefined): Promise<void> {
    assertValidId(id);
    this.assertOpen();
    assertData(data);
    const now = Date.now();
    const createdAtMs = options.createdAtMs ?? now;
    const ttl = this.ttlFor(options.ttlMs, createdAtMs, now);
    if (ttl <= 0) {
      if (traced !== undefined) traced.outcome = "gone";
      await this.deleteKeys(this.keysOf(id), traced);
      return;
    }
    const key = this.keysOf(id)[0];
    const record = this.newRecord(data, createdAtMs, now, ttl, { ...options, userId: this.userIdFor(data, options.userId, undefined) });
    await this.indexBeforeWrite(key, record, undefined);
    await this.write(key, record, ttl, { kind: "always" }, undefined, traced);
    if (traced !== undefined) traced.outcome = "written";
    await this.afterTagged(key, record.userId, undefined);
  }

  /**
   * A save of a session exactly as it was loaded (`body`: its stored body, which the data's JSON text
   * matches) — the same data, TTL, user and kind of cookie, within
   * its absolute lifetime — answered without a deadline, a promise chain or a backend command: rolling
   * frameworks (@fastify/session, koa-session with `rolling`) save every session they read. Undefined
   * for anything else, which `saveOnce` decides (it also validates what this skips: only a session this
   * store loaded or wrote has a body, and its id passed the checks then). Traced saves take the full path
   * so observers see them.
   */
  private unchangedSave(id: string, data: SessionData, body: string, options: SaveOptions): SaveOutcome | undefined {
    const previous = options.previous;
    if (previous == null || previous.id !== id || this.closed || isTraced(tracingChannels.save)) return undefined;
    if (options.ttlMs !== undefined && options.ttlMs !== previous.ttlMs) return undefined;
    if ((options.browserSession ?? previous.browserSession === true) !== (previous.browserSession === true)) return undefined;
    if (this.lifetimeLeft(previous.createdAtMs, Date.now()) <= 0) return undefined;
    if (options.userId !== undefined || this.userIdFrom !== undefined) {
      let userId: string | undefined;
      try {
        userId = this.userIdFor(data, options.userId, previous.userId);
      } catch {
        return undefined; // saveOnce reports it
      }
      if (userId !== previous.userId) return undefined;
    }
    return unchangedOutcome(previous, id, body);
  }

  private saveSession(id: string, data: SessionData, options: SaveOptions, traced: OperationContext | undefined, dataText: DataText | undefined): Promise<SaveOutcome> {
    const saved = this.saveOnce(id, data, options, traced, dataText);
    if (traced === undefined) return saved; // no second async frame when nobody traces
    return saved.then((outcome) => {
      traced.outcome = outcome.status === "written" && outcome.merged ? "merged" : outcome.status;
      return outcome;
    });
  }

  private async saveOnce(id: string, data: SessionData, options: SaveOptions, traced: OperationContext | undefined, given: DataText | undefined): Promise<SaveOutcome> {
    assertValidId(id);
    this.assertOpen();
    assertData(data);
    const key = this.keysOf(id)[0];
    const previous = options.previous;
    const now = Date.now();
    const createdAtMs = previous?.createdAtMs ?? now;
    const ttl = this.ttlFor(options.ttlMs ?? previous?.ttlMs, createdAtMs, now);
    if (ttl <= 0) {
      await this.deleteKeys(this.keysOf(id), traced);
      return { status: "gone" };
    }
    const userId = this.userIdFor(data, options.userId, previous?.userId);
    const browserSession = options.browserSession ?? previous?.browserSession === true;
    const metaChanged = previous !== null && (userId !== previous.userId || (options.ttlMs !== undefined && options.ttlMs !== previous.ttlMs) || browserSession !== (previous.browserSession === true));
    const previousBody = previous === null ? undefined : bodyOf(previous);
    // With the default serializer the data is stringified once (by `save`): that text tells an unchanged
    // session and is the body written.
    const dataText = this.serializer === jsonSerializer ? (given?.text ?? this.dataText(data)) : undefined;
    if (previous !== null && previousBody !== undefined && !metaChanged && dataText !== undefined && (given?.sameAsBody ?? sameJsonData(previousBody, dataText))) return unchangedOutcome(previous, id, previousBody);
    // The fields this request changed, against the session as stored (never against objects this request
    // may have changed in place). Needed to merge after a lost compare-and-set; on the JSON fast path the
    // first write needs neither it nor a second parse of the stored body. (No closures here: their
    // context and function objects were allocated on every save.)
    let changes: Changes | undefined;
    if (previous !== null && (dataText === undefined || previousBody === undefined || mayBeReordered(previousBody, dataText))) {
      changes = this.changesFrom(previous, previousBody, data);
      if (changes.delta.set.length === 0 && changes.delta.unset.length === 0 && !metaChanged) return unchangedOutcome(previous, id, previousBody);
    }
    // Field by field: spreads of conditional objects took V8's slow path (~12 % of a write's CPU).
    const base: Omit<SessionRecord, "data" | "version"> = { createdAtMs, expiresAtMs: now + ttl, ttlMs: options.ttlMs ?? previous?.ttlMs ?? ttl };
    if (userId !== undefined) base.userId = userId;
    if ((options.meta ?? previous?.meta) !== undefined) base.meta = cleanMeta(options.meta) ?? (previous?.meta as Record<string, string>);
    if (previous?.indexedUntilMs !== undefined && userId === previous.userId) base.indexedUntilMs = previous.indexedUntilMs;
    if (browserSession) base.browserSession = true;
    const indexing = this.indexBeforeWrite(key, base, previous?.userId);
    if (indexing !== undefined) await indexing;
    let record: SessionRecord = withData(base, data);
    let condition: SetCondition = previous === null ? { kind: "absent" } : this.updateCondition(previous.version);
    let merged = false;
    for (let attempt = 1; ; attempt++) {
      const body = dataText !== undefined && record.data === data ? encodeJsonBody(dataText, record) : this.encode(record);
      if (traced !== undefined) traced.retries = attempt - 1;
      let result = await this.write(key, record, ttl, condition, body, traced);
      if (result === "missing" && previous !== null && this.keys.candidates(id).length > 1) {
        // Loaded from an older secret's key and not moved yet (the move failed): move it, then retry.
        if ((await this.find(id, undefined, traced)) !== null) result = await this.write(key, record, ttl, condition, body, traced);
      }
      if (result === "ok") {
        const untagging = this.afterTagged(key, record.userId, merged ? undefined : previous?.userId);
        if (untagging !== undefined) await untagging;
        const session = loadedSession(record, id, true, undefined);
        rememberBody(session, body);
        return { status: "written", session, merged };
      }
      // Someone else wrote or destroyed the session while this request ran.
      const unreadable = { seen: false };
      const current = await this.loadRaw(key, unreadable, traced);
      if (current === null) {
        if (previous === null && result === "exists") {
          // What holds the id is no session (sealed with a key no longer configured, or not ours): the
          // create replaces it, instead of retrying until the deadline (a TIMEOUT, and a false outage).
          if (unreadable.seen) condition = { kind: "always" };
          continue; // or it vanished between our write and read: retry the create
        }
        return { status: "gone" };
      }
      if (attempt >= MAX_MERGE_ATTEMPTS || Date.now() - now > this.options.timeoutMs) {
        throw new SessionStoreError("CONFLICT", `${this.backend.label}: a session changed ${attempt} times while one request tried to save it; the save was abandoned`, { backend: this.backend.label });
      }
      changes ??= this.changesFrom(previous, previousBody, data);
      const { before, delta } = changes;
      const clashes = [...delta.set, ...delta.unset].filter((field) => previous !== null && !sameValue(current.data[field], before[field]));
      if (clashes.length > 0) {
        this.emitSafely("conflict", { fields: clashes });
        if (traced !== undefined) traced.conflicts = (traced.conflicts ?? 0) + clashes.length;
      }
      const mergedData = applyDelta(current.data, data, delta);
      // The user comes from the merged data (a concurrent login must not be untagged by this request).
      const mergedUser = this.userIdFrom !== undefined ? this.userIdFor(mergedData, options.userId, undefined) : (options.userId ?? userId ?? current.userId);
      record = { ...base, createdAtMs: current.createdAtMs, data: mergedData, version: newVersion() };
      if (mergedUser === undefined) delete record.userId;
      else record.userId = mergedUser;
      if (base.meta === undefined && current.meta !== undefined) record.meta = current.meta;
      const indexedUntil = Math.max(mergedUser === userId ? (base.indexedUntilMs ?? 0) : 0, current.userId === mergedUser ? (current.indexedUntilMs ?? 0) : 0);
      if (indexedUntil > 0 && mergedUser !== undefined) record.indexedUntilMs = indexedUntil;
      else delete record.indexedUntilMs;
      await this.indexBeforeWrite(key, record, current.userId);
      condition = this.updateCondition(current.version);
      merged = true;
    }
  }

  // ---- per-user sessions -------------------------------------------------------------------------

  sessionsOf(userId: string): Promise<UserSession[]> {
    return this.traced("sessionsOf", async () => {
      this.assertOpen();
      return this.users.sessionsOf(assertUserId(userId, "userId"));
    });
  }

  destroySessionsOf(userId: string, options: { except?: string | readonly string[] } = {}): Promise<number> {
    return this.traced("destroySessionsOf", () => this.destroyAllOf(userId, options));
  }

  private async destroyAllOf(userId: string, options: { except?: string | readonly string[] }): Promise<number> {
    this.assertOpen();
    const except = options.except === undefined ? [] : typeof options.except === "string" ? [options.except] : [...options.except];
    const keep = new Set<string>();
    for (const id of except) {
      assertValidId(id);
      for (const key of this.keysOf(id)) keep.add(key);
    }
    return this.users.destroyAll(assertUserId(userId, "userId"), keep);
  }

  destroySessionOf(userId: string, handle: string): Promise<boolean> {
    return this.traced("destroySessionOf", async () => {
      this.assertOpen();
      if (typeof handle !== "string" || handle.length === 0 || handle.length > 64) return false;
      return this.users.destroyByHandle(assertUserId(userId, "userId"), handle);
    });
  }

  handleOf(id: string): string {
    assertValidId(id);
    return this.users.handleOfKey(this.keysOf(id)[0]);
  }

  // ---- listing -----------------------------------------------------------------------------------

  async *ids(): AsyncIterable<string> {
    this.assertOpen();
    this.assertCanScan("ids");
    const iterator = this.backend.scan(this.keys.prefix)[Symbol.asyncIterator]();
    for (;;) {
      // One trace per batch: a listing may be paused by its consumer for as long as it likes.
      const step = await this.traced("scan", () => this.run("scan", () => iterator.next()));
      if (step.done) return;
      for (const key of step.value) if (!this.keys.isIndexKey(key)) yield this.keys.idOf(key);
    }
  }

  async length(): Promise<number> {
    let count = 0;
    for await (const _ of this.ids()) count++;
    return count;
  }

  clear(): Promise<void> {
    return this.traced("clear", () => this.clearAll());
  }

  private async clearAll(): Promise<void> {
    this.assertOpen();
    this.assertCanScan("clear");
    // The per-user index keys live under the prefix too, so this clears them with the sessions.
    const iterator = this.backend.scan(this.keys.prefix)[Symbol.asyncIterator]();
    for (;;) {
      const step = await this.run("scan", () => iterator.next());
      if (step.done) return;
      if (step.value.length > 0) await this.run("delete", () => this.backend.delete(step.value));
    }
  }

  ping(): Promise<void> {
    return this.operation("ping", async () => {
      this.assertOpen();
      await this.run("ping", () => this.backend.ping());
    });
  }

  async health(): Promise<StoreHealth> {
    this.assertOpen();
    const label = this.backend.label;
    const probe = this.backend.health === undefined ? this.pingAsHealth() : this.backend.health();
    let nodes: NodeHealth[];
    try {
      nodes = await withDeadline(probe, this.options.timeoutMs, "health", label);
    } catch (error) {
      nodes = [{ node: label, role: "primary", reachable: false, lastError: this.wrap(error, "health").message.replace(/^sessionbridge: /, "") }];
    }
    const ok = nodes.length > 0 && nodes.every((node) => node.reachable || node.role === "replica");
    // health() is a check like any operation: a backend seen answering (or not) updates availability.
    if (ok && !this.available) this.markAvailable();
    return { ok, system: this.system, backend: label, nodes };
  }

  /** For a backend without `health()`: its ping, as one node. */
  private async pingAsHealth(): Promise<NodeHealth[]> {
    const started = performance.now();
    try {
      await this.backend.ping();
      return [{ node: this.backend.label, role: "primary", reachable: true, latencyMs: Math.round((performance.now() - started) * 100) / 100 }];
    } catch (error) {
      return [{ node: this.backend.label, role: "primary", reachable: false, lastError: this.wrap(error, "ping").message.replace(/^sessionbridge: /, "") }];
    }
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  /**
   * Refuses new operations (CLOSED) at once, lets those already started finish — each is bounded by its
   * own deadline, so this waits at most `timeoutMs` — then closes the connections.
   */
  private async shutdown(): Promise<void> {
    this.closed = true;
    if (this.pending > 0) {
      const drained = new Promise<void>((resolve) => (this.drained = resolve));
      await withDeadline(drained, this.options.timeoutMs, "close", this.backend.label).catch(() => undefined);
    }
    for (const off of this.unsubscribe) off();
    await withDeadline(this.migrateSource?.close() ?? Promise.resolve(), this.options.timeoutMs, "close", this.backend.label).catch(() => undefined);
    await withDeadline(this.backend.close(), this.options.timeoutMs, "close", this.backend.label).catch(() => undefined);
  }

  // ---- internals ---------------------------------------------------------------------------------

  private updateCondition(version: string): SetCondition {
    return this.backend.capabilities.compareAndSet ? { kind: "version", prefix: versionPrefix(version) } : { kind: "exists" };
  }

  private newRecord(data: SessionData, createdAtMs: number, now: number, ttl: number, options: WriteOptions): SessionRecord {
    const record: SessionRecord = { data, createdAtMs, expiresAtMs: now + ttl, ttlMs: options.ttlMs ?? ttl, version: newVersion() };
    if (options.userId !== undefined) record.userId = options.userId;
    const meta = cleanMeta(options.meta);
    if (meta !== undefined) record.meta = meta;
    if (options.browserSession === true) record.browserSession = true;
    return record;
  }

  /** The record under `key`; null when there is none or it cannot be decoded (then `unreadable.seen`). */
  private async loadRaw(key: string, unreadable?: { seen: boolean }, observer?: CommandObserver): Promise<SessionRecord | null> {
    if (this.keys.isIndexKey(key)) return null;
    const text = await this.run("get", () => this.backend.get(key, undefined, observer));
    const record = text === null ? null : this.decode(text, key);
    if (text !== null && record === null && unreadable !== undefined) unreadable.seen = true;
    return record;
  }

  /** Stored bytes are untrusted: anything larger than we would ever write is refused unread. */
  private open(text: string, key: string): { record: SessionRecord; body: string } | null {
    if (text.length > this.options.maxBytes) return null;
    const version = peekVersion(text);
    if (version === null) return null;
    const body = openBody(sealedBody(text), key, this.transform);
    const record = body === null ? null : parseBody(body, version, this.serializer);
    return record === null ? null : { record, body: body as string };
  }

  private decode(text: string, key: string): SessionRecord | null {
    return this.open(text, key)?.record ?? null;
  }


  /**
   * Reads a session under its newest key; on a miss, under each older secret's key, moving a session
   * found there to the newest key. A read that refreshes (GETEX) passes `refreshTtlMs`. `observer`: the
   * traced operation's context (see backend.ts), for every command on this store's keys.
   */
  private find(id: string, refreshTtlMs: number | undefined, observer: CommandObserver | undefined): Promise<Found | null> {
    const keys = this.keysOf(id);
    const key = keys[0];
    // One `then` for the common case (found under the newest key, or a miss with nowhere else to look):
    // no async frame per read. A key holding another type of value (Redis WRONGTYPE) is corrupt data: no
    // session, never a failed read.
    return this.readKey(key, refreshTtlMs, observer).then(
      (text) => (text !== null ? this.found(key, text, refreshTtlMs) : keys.length === 1 && this.migrateSource === undefined ? null : this.findElsewhere(id, keys, refreshTtlMs, observer)),
      (error: unknown) => {
        if (isSessionStoreError(error) && error.code === "CORRUPT") return { key, record: null, ttlSetMs: undefined };
        throw error;
      },
    );
  }

  private readKey(key: string, refreshTtlMs: number | undefined, observer: CommandObserver | undefined): Promise<string | null> {
    return this.command("get", () => this.backend.get(key, refreshTtlMs === undefined ? undefined : { refreshTtlMs }, observer));
  }

  /** `find` after a miss under the newest key: each older secret's key, then the migration source. */
  private async findElsewhere(id: string, keys: readonly [string, ...string[]], refreshTtlMs: number | undefined, observer: CommandObserver | undefined): Promise<Found | null> {
    const key = keys[0];
    for (const oldKey of keys.slice(1)) {
      const oldText = await this.run("get", () => this.backend.get(oldKey, undefined, observer));
      if (oldText !== null) return this.moveFromOlderKey(key, oldKey, oldText, observer);
    }
    if (this.migrateSource !== undefined) {
      const taken = await this.takeOver(id, key, refreshTtlMs !== undefined, observer);
      if (taken.found !== undefined) return taken.found;
    }
    // A concurrent request may have moved it between our two reads: its copy lands before the old key goes.
    const again = await this.readKey(key, refreshTtlMs, observer);
    return again === null ? null : this.found(key, again, refreshTtlMs);
  }

  private found(key: string, text: string, ttlSetMs: number | undefined): Found {
    const opened = this.open(text, key);
    if (opened === null) return { key, record: null, ttlSetMs, text };
    const stale = this.transform?.stale?.(sealedBody(text)) === true;
    return { key, record: opened.record, ttlSetMs, stale, body: opened.body, text };
  }

  /** What `data` changed against the session as stored (`previous`; nothing for a new session). */
  private changesFrom(previous: LoadedSession<object> | null, previousBody: string | undefined, data: SessionData): Changes {
    const before: SessionData = previous === null ? {} : this.pristineData(previous, previousBody);
    return { before, delta: diff(before, data) };
  }

  /** The data of a session as it was stored (see snapshot.ts); its in-memory data when no body is known. */
  private pristineData(previous: LoadedSession<object>, body: string | undefined): SessionData {
    if (body !== undefined) {
      const record = parseBody(body, previous.version, this.serializer);
      if (record !== null) return record.data;
    }
    return previous.data as SessionData;
  }

  /** Moves a session from an older secret's key to the newest one (key rotation), see `move`. */
  private async moveFromOlderKey(key: string, oldKey: string, oldText: string, observer: CommandObserver | undefined): Promise<Found | null> {
    const record = this.decode(oldText, oldKey);
    if (record === null) return { key: oldKey, record: null, ttlSetMs: undefined };
    const now = Date.now();
    const ttl = Math.min(record.ttlMs, this.lifetimeLeft(record.createdAtMs, now));
    if (ttl <= 0) return { key: oldKey, record, ttlSetMs: undefined };
    // The copy keeps its version, so requests that loaded the old copy still save with compare-and-set.
    const copy: SessionRecord = { ...record, expiresAtMs: now + ttl };
    const moved = await this.move(key, copy, ttl, async () => (await this.run("delete", () => this.backend.delete([oldKey], observer))) > 0, observer);
    if (moved?.record === copy && record.userId !== undefined && this.users.supported) {
      await this.users.add(record.userId, key, record.indexedUntilMs ?? UserIndex.scoreFor(copy.expiresAtMs, record.ttlMs));
      await this.users.remove(record.userId, [oldKey]).catch((error: unknown) => this.report(this.wrap(error, "indexRemove")));
    }
    return moved;
  }

  /**
   * Moves a session from the `migrateFrom` source into this store (see `move`): the user data with the
   * expiry and idle timeout the source stored, in this store's format (key, encryption, user index).
   * `found` is undefined when there was nothing to move (absent, expired), so the caller reads again.
   * `slide`: this read slides the TTL anyway (no lazy touch), so the copy is written with the slid TTL
   * (the state a GETEX leaves) instead of being written and then slid by a second command.
   */
  private async takeOver(id: string, key: string, slide: boolean, observer: CommandObserver | undefined): Promise<{ outcome: MigrateOutcome; found?: Found | null }> {
    const source = this.migrateSource as MigrationSource;
    const session = await this.runSource(() => source.read(id));
    if (session === "absent") return { outcome: "absent" };
    if (session === "unreadable") return { outcome: "unreadable", found: { key, record: null, ttlSetMs: undefined } };
    const now = Date.now();
    const copy = this.recordFromSource(session, now);
    const lifetimeLeft = this.lifetimeLeft(copy.createdAtMs, now);
    const ttl = Math.min(copy.expiresAtMs - now, lifetimeLeft);
    if (ttl <= 0) return { outcome: "expired" };
    copy.expiresAtMs = now + ttl;
    // Indexed before the record exists, as any write (see indexBeforeWrite).
    await this.indexBeforeWrite(key, copy, undefined);
    // With keepSource the copy stays; whether it is still there tells a logout during the move apart.
    const release = source.keepSource ? async () => typeof (await this.runSource(() => source.read(id))) === "object" : () => this.runSource(() => source.remove(id));
    const found = await this.move(key, copy, slide ? Math.min(copy.ttlMs, lifetimeLeft) : ttl, release, observer);
    return { outcome: found === null ? "gone" : found.record === copy ? "moved" : "present", found };
  }

  private recordFromSource(session: SourceSession, now: number): SessionRecord {
    const data = session.data;
    const record: SessionRecord = { data, createdAtMs: session.createdAtMs ?? now, expiresAtMs: session.expiresAtMs, ttlMs: storedTtlMs(session.ttlMs) ?? this.options.ttlMs, version: newVersion() };
    const userId = this.userIdFrom === undefined ? session.userId : this.userIdFor(data, undefined, session.userId);
    if (userId !== undefined) record.userId = userId;
    if (session.meta !== undefined) record.meta = session.meta;
    if (session.browserSession === true) record.browserSession = true;
    return record;
  }

  /**
   * Moves a session to `key` (from an older secret's key, or from the `migrateFrom` source): copy
   * (create-only), then `release` the old copy. If the old copy was already gone by then, the session
   * was destroyed (or expired) while we copied it, so the copy is deleted too: a logout during a move
   * sticks. Two readers moving at once: one create wins, the other reads the winner's copy.
   */
  private async move(key: string, copy: SessionRecord, ttl: number, release: () => Promise<boolean>, observer: CommandObserver | undefined): Promise<Found | null> {
    const created = await this.write(key, copy, ttl, { kind: "absent" }, undefined, undefined, observer);
    if (created !== "ok") {
      const text = await this.run("get", () => this.backend.get(key, undefined, observer));
      return text === null ? null : { key, record: this.decode(text, key), ttlSetMs: undefined };
    }
    if (!(await release())) {
      await this.run("delete", () => this.backend.delete([key], observer));
      return null;
    }
    return { key, record: copy, ttlSetMs: ttl };
  }

  /**
   * Rewrites a record with a new expiry (lazy touch) and moves its per-user index entry first, so the
   * index never lists a session for less time than it lives. Keeps the version: a refresh is no change.
   */
  private async refresh(key: string, record: SessionRecord, loaded: LoadedSession, now: number, ttl: number, observer: CommandObserver | undefined): Promise<void> {
    const refreshed: SessionRecord = { ...record, expiresAtMs: now + ttl };
    try {
      await this.indexBeforeWrite(key, refreshed, record.userId);
      const result = await this.write(key, refreshed, ttl, { kind: "version", prefix: versionPrefix(record.version) }, undefined, undefined, observer);
      if (result === "ok") {
        loaded.expiresAtMs = refreshed.expiresAtMs;
        if (refreshed.indexedUntilMs !== undefined) loaded.indexedUntilMs = refreshed.indexedUntilMs;
        loaded.refreshed = true;
      }
    } catch (error) {
      // The read itself succeeded; a failed refresh only costs TTL, so report it and answer.
      this.report(this.wrap(error, "touch"));
    }
  }

  /**
   * Adds the session to its user's index before the record is written (so no moment exists where a
   * tagged session is missing from the index) and records in `record.indexedUntilMs` until when.
   */
  private indexBeforeWrite(key: string, record: Omit<SessionRecord, "data" | "version">, previousUserId: string | undefined): Promise<void> | undefined {
    if (record.userId === undefined || !this.users.supported) return undefined;
    if (record.userId === previousUserId && !UserIndex.due(record, record.expiresAtMs)) return undefined;
    return this.addToIndex(key, record, record.userId);
  }

  private async addToIndex(key: string, record: Omit<SessionRecord, "data" | "version">, userId: string): Promise<void> {
    const score = UserIndex.scoreFor(record.expiresAtMs, record.ttlMs);
    await this.users.add(userId, key, score);
    record.indexedUntilMs = score;
  }

  /**
   * After a write that changed the session's user: leave the old user's index, apply maxSessionsPerUser.
   * Undefined when there is nothing to do (every write of an untagged or same-user session), so the write
   * path awaits no promise for it (indexBeforeWrite likewise).
   */
  private afterTagged(key: string, userId: string | undefined, previousUserId: string | undefined): Promise<void> | undefined {
    if (userId === previousUserId || !this.users.supported) return undefined;
    return this.untagAndLimit(key, userId, previousUserId);
  }

  private async untagAndLimit(key: string, userId: string | undefined, previousUserId: string | undefined): Promise<void> {
    try {
      if (previousUserId !== undefined) await this.users.remove(previousUserId, [key]);
      if (userId !== undefined && this.options.maxSessionsPerUser !== undefined) await this.users.enforceLimit(userId, key, this.options.maxSessionsPerUser);
    } catch (error) {
      // The session itself is saved; the limit or clean-up is retried at the user's next login.
      this.report(this.wrap(error, "per-user index"));
    }
  }

  /** The user a write tags the session with: explicit option, else `userIdFrom(data)`, else the previous one. */
  private userIdFor(data: SessionData, explicit: string | undefined, previous: string | undefined): string | undefined {
    if (explicit !== undefined) return assertUserId(explicit, "userId");
    if (this.userIdFrom === undefined) return previous;
    const value = this.userIdFrom(data);
    if (value === undefined || value === null || value === "") return undefined;
    if (typeof value === "number" && Number.isFinite(value)) return String(value);
    return assertUserId(value, "userIdFrom(data)");
  }

  /** The keys an id may live under, newest first. An id that would name a per-user index key is refused. */
  private keysOf(id: string): [string, ...string[]] {
    const keys = this.keys.candidates(id) as [string, ...string[]];
    if (this.keys.isIndexKey(keys[0])) throw new SessionStoreError("INVALID_ID", `session id must not start with "${USER_INDEX_MARK}" (reserved for the per-user index)`);
    return keys;
  }

  /** One delete per key: keys of one session under different secrets may sit on different Cluster slots. */
  private async deleteKeys(keys: readonly string[], observer?: CommandObserver): Promise<number> {
    if (keys.length === 1) return this.run("delete", () => this.backend.delete(keys, observer));
    const counts = await Promise.all(keys.map((key) => this.run("delete", () => this.backend.delete([key], observer))));
    return counts.reduce((sum, count) => sum + count, 0);
  }

  /** The data's JSON text (record.ts `dataJson`), failing like `encode` for data JSON cannot hold. */
  private dataText(data: SessionData): string {
    try {
      return dataJson(data);
    } catch (error) {
      throw new SessionStoreError("CONFIG", "the session could not be serialized (is it a plain JSON object without cycles or BigInt?)", { cause: error });
    }
  }

  private encode(record: SessionRecord): string {
    try {
      return encodeBody(record, this.serializer);
    } catch (error) {
      throw new SessionStoreError("CONFIG", "the session could not be serialized (is it a plain JSON object without cycles or BigInt?)", { cause: error });
    }
  }

  /**
   * Encodes and writes a record (`body`: its body from `encode`, when the caller needs it too). `traced`
   * learns the size written; `observer` (the operation's tracing context too, when traced) the server.
   * Not async (one promise less per write): it throws a TOO_LARGE or CONFIG error itself, and every caller
   * awaits it inside an async function, where that is the same as a rejection.
   */
  private write(key: string, record: SessionRecord, ttl: number, condition: SetCondition, body = this.encode(record), traced?: OperationContext, observer: CommandObserver | undefined = traced): Promise<SetResult> {
    const text = sealRecord(record.version, body, key, this.transform);
    const bytes = Buffer.byteLength(text, "utf8");
    if (traced !== undefined) traced.bytes = bytes;
    if (bytes > this.options.maxBytes) {
      throw new SessionStoreError("TOO_LARGE", `a session of ${bytes} bytes exceeds maxBytes (${this.options.maxBytes}); nothing was written — keep large data out of the session`, { backend: this.backend.label });
    }
    return this.command("set", () => this.backend.set(key, text, backendTtlMs(ttl), condition, observer));
  }

  private ttlFor(requested: number | undefined, createdAtMs: number, now: number): number {
    // `requested` is whole and capped already (wholeTtl, or a record's TTL as parseBody reads it).
    return Math.min(requested ?? this.options.ttlMs, this.lifetimeLeft(createdAtMs, now));
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

  /**
   * A whole store operation under one deadline: it answers within `timeoutMs` even when it needs several
   * backend commands (a read that also corrects the TTL, a save that merges, a move after a secret
   * rotation). A command still in flight at the deadline may land later; writes are conditional
   * (compare-and-set), so a late one cannot bring back a session destroyed meanwhile.
   */
  private operation<R>(what: TracedOperation, work: (traced: OperationContext | undefined) => Promise<R>): Promise<R> {
    // Started by an adapter within a request's budget: what is left of it is this operation's deadline.
    const budget = takeBudgetDeadline();
    const channel = tracingChannels[what];
    if (!isTraced(channel)) return this.underDeadline(what, work, undefined, budget);
    const context = this.traceContext(what);
    return trace(channel, context, () => this.underDeadline(what, work, context, budget));
  }

  /**
   * Runs `work` under the store's deadline, or under what is left of a request's budget (`budget`, taken
   * from the adapter's `withinBudget`). `settleOperation` does the bookkeeping as the deadline settles.
   */
  private underDeadline<R>(what: string, work: (traced: OperationContext | undefined) => Promise<R>, traced: OperationContext | undefined, budget: BudgetDeadline | undefined): Promise<R> {
    this.pending++;
    if (budget !== undefined && budget.shortened) return this.deadlines.run(budget.what, () => work(traced), budget.timeoutMs, budget.budgetMs, this.settleOperation, budget);
    return this.deadlines.run(what, () => work(traced), undefined, undefined, this.settleOperation, budget);
  }

  /**
   * An operation settled (see underDeadline): no longer in flight; a failure becomes a SessionStoreError,
   * and a miss of the store's own deadline (not of a request's spent budget) marks the backend
   * unavailable; the time and any outage count into the request's budget, if the operation runs in one.
   */
  private readonly settleOperation = (failed: boolean, error: unknown, what: string, budget: BudgetDeadline | undefined): unknown => {
    this.settled();
    if (!failed) {
      if (budget !== undefined) settleBudget(budget);
      return undefined;
    }
    const wrapped = this.wrap(error, what);
    if (wrapped.code === "TIMEOUT" && budget?.shortened !== true) this.markUnavailable(wrapped);
    if (budget !== undefined) settleBudget(budget, wrapped);
    return wrapped;
  };

  /** Counts an operation in flight (see close) until it settles. */
  private counted<R>(work: () => Promise<R>): Promise<R> {
    this.pending++;
    let promise: Promise<R>;
    try {
      promise = work();
    } catch (error) {
      this.settled();
      throw error;
    }
    return promise.then(
      (result) => {
        this.settled();
        return result;
      },
      (error: unknown) => {
        this.settled();
        throw error;
      },
    );
  }

  private settled(): void {
    if (--this.pending === 0 && this.drained !== undefined) this.drained();
  }

  /** An operation without a deadline of its own (its commands each have one), traced when someone listens. */
  private traced<R>(what: TracedOperation, work: () => Promise<R>): Promise<R> {
    const channel = tracingChannels[what];
    if (!isTraced(channel)) return this.counted(work);
    const context = this.traceContext(what);
    return trace(channel, context, () => this.counted(work));
  }

  /** What an observer of the tracing channels learns about an operation: never the id, data or a secret. */
  private traceContext(operation: TracedOperation): OperationContext {
    return { operation, system: this.system, backend: this.backend.label, prefix: this.options.prefix };
  }

  /** Runs one backend command under the store's deadline and maps every failure to a SessionStoreError. */
  private run<R>(what: string, operation: () => Promise<R>): Promise<R> {
    return this.settleCommand(what, this.deadlines.run(what, operation));
  }

  /**
   * One backend command of the hot paths (`find`'s read, `write`, a read's TTL correction), which only
   * run inside an operation (`operation`): that deadline covers it, so it gets no deadline entry of its
   * own — one per operation, not one per command as well. Failures are mapped as in `run`.
   */
  private command<R>(what: string, operation: () => Promise<R>): Promise<R> {
    return this.settleCommand(what, promiseOf(operation));
  }

  private settleCommand<R>(what: string, work: Promise<R>): Promise<R> {
    return work.then(this.commandSucceeded as (result: R) => R, this.commandFailed(what));
  }

  /** A command succeeded (see settleCommand); made once, not two closures per command. */
  private readonly commandSucceeded = (result: unknown): unknown => {
    // A success proves the backend is back even when its connection never dropped (a slow reply that
    // timed out), so the backend would have no 'available' to report.
    if (!this.available) this.markAvailable();
    return result;
  };

  private readonly failureHandlers = new Map<string, (error: unknown) => never>();

  /** The handler of a failed command called `what`: made once per name (a handful), not per command. */
  private commandFailed(what: string): (error: unknown) => never {
    let handler = this.failureHandlers.get(what);
    if (handler === undefined) {
      handler = (error: unknown): never => {
        const wrapped = this.wrap(error, what);
        if (wrapped.code === "UNAVAILABLE" || wrapped.code === "TIMEOUT") this.markUnavailable(wrapped);
        throw wrapped;
      };
      this.failureHandlers.set(what, handler);
    }
    return handler;
  }

  /**
   * One command on the `migrateFrom` source, under the store's deadline. Its failures fail the operation
   * (a user is not logged out because the old backend is down) but say nothing about this store's own
   * backend, so they never flip its availability.
   */
  private runSource<R>(operation: () => Promise<R>): Promise<R> {
    return this.deadlines.run("migrate", operation).catch((error: unknown) => {
      if (isSessionStoreError(error)) throw error;
      throw new SessionStoreError("BACKEND", `${this.migrateSource?.label ?? "migration source"}: reading or removing a session to migrate failed: ${error instanceof Error ? error.message : "unknown error"}`, { cause: error });
    });
  }

  private wrap(error: unknown, what: string): SessionStoreError {
    if (isSessionStoreError(error)) return error;
    const message = error instanceof Error ? error.message : "unknown error";
    return new SessionStoreError("BACKEND", `${this.backend.label}: ${what} failed: ${message}`, { cause: error, backend: this.backend.label });
  }

  private markUnavailable(error: Error): void {
    if (!this.available) return;
    this.available = false;
    const wrapped = this.wrap(error, "connection");
    if (availabilityChannel.hasSubscribers) availabilityChannel.publish({ available: false, system: this.system, backend: this.backend.label, prefix: this.options.prefix, error: wrapped } satisfies AvailabilityMessage);
    this.emitSafely("unavailable", wrapped);
  }

  private markAvailable(): void {
    if (this.available) return;
    this.available = true;
    if (availabilityChannel.hasSubscribers) availabilityChannel.publish({ available: true, system: this.system, backend: this.backend.label, prefix: this.options.prefix } satisfies AvailabilityMessage);
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

/**
 * A save's outcome when nothing differed from `held`; its body is still the stored state, which a later
 * save compares with. `held` itself when it is this session with that body (every rolling read saves its
 * session unchanged: no new object, no snapshot entry), else a copy under `id` that keeps `body`.
 */
function unchangedOutcome(held: LoadedSession<object>, id: string, body: string | undefined): SaveOutcome {
  if (held.id === id && bodyOf(held) === body) return { status: "unchanged", session: held as LoadedSession };
  const session = loadedSession(held as LoadedSession, id, held.refreshed, held.writtenExpiresAtMs);
  if (body !== undefined) rememberBody(session, body);
  return { status: "unchanged", session };
}

/** The fields a save changed (`delta`) against the session as stored (`before`). */
interface Changes {
  before: SessionData;
  delta: Delta;
}

/** The data's JSON text from `save`, and whether it matched the stored body (so `saveOnce` does not compare again). */
interface DataText {
  text: string;
  sameAsBody: boolean;
}

/** A record of `base`'s metadata with `data` and a new version, built field by field (see saveOnce). */
function withData(base: Omit<SessionRecord, "data" | "version">, data: SessionData): SessionRecord {
  const record: SessionRecord = { data, createdAtMs: base.createdAtMs, expiresAtMs: base.expiresAtMs, ttlMs: base.ttlMs, version: newVersion() };
  if (base.userId !== undefined) record.userId = base.userId;
  if (base.meta !== undefined) record.meta = base.meta;
  if (base.indexedUntilMs !== undefined) record.indexedUntilMs = base.indexedUntilMs;
  if (base.browserSession === true) record.browserSession = true;
  return record;
}

/** The data's JSON text, or undefined when JSON cannot hold it (the full save path then says why). */
function jsonOrUndefined(data: SessionData): string | undefined {
  try {
    return dataJson(data);
  } catch {
    return undefined;
  }
}

/**
 * A LoadedSession built field by field from a record. Object spread of records (their optional fields
 * give them several hidden-class shapes) takes V8's slow path: it was the largest single cost of a
 * session read, ~7 of 21 µs client CPU per `get` (bench store level).
 */
export function loadedSession(record: SessionRecord, id: string, refreshed: boolean, writtenExpiresAtMs: number | undefined): LoadedSession {
  // A StoredSession (snapshot.ts), its fields set in one order so every one shares a hidden class.
  const loaded = new StoredSession() as unknown as LoadedSession;
  loaded.data = record.data;
  loaded.createdAtMs = record.createdAtMs;
  loaded.expiresAtMs = record.expiresAtMs;
  loaded.ttlMs = record.ttlMs;
  loaded.version = record.version;
  loaded.id = id;
  loaded.refreshed = refreshed;
  if (writtenExpiresAtMs !== undefined) loaded.writtenExpiresAtMs = writtenExpiresAtMs;
  if (record.userId !== undefined) loaded.userId = record.userId;
  if (record.meta !== undefined) loaded.meta = record.meta;
  if (record.indexedUntilMs !== undefined) loaded.indexedUntilMs = record.indexedUntilMs;
  if (record.browserSession === true) loaded.browserSession = true;
  const body = bodyOf(record);
  if (body !== undefined) rememberBody(loaded, body);
  return loaded;
}

export function createSessionStore<T extends object = SessionData>(options: SessionStoreOptions): SessionStore<T> {
  return new Store(options) as unknown as SessionStore<T>;
}

// ---- data helpers ----------------------------------------------------------------------------------

/** Per-call options with `ttlMs` checked and rounded up to whole ms (see ttl.ts); the same rule as the store option. */
function wholeTtl<O extends { ttlMs?: number }>(options: O | undefined): O {
  const given = options ?? ({} as O);
  return given.ttlMs === undefined ? given : { ...given, ttlMs: ttlMsOption("ttlMs", given.ttlMs) };
}

function assertData(data: unknown): asserts data is SessionData {
  if (!isPlainObject(data)) throw new SessionStoreError("CONFIG", "session data must be a plain JSON object");
  // Checked before anything compares or serializes it (both recurse); reads refuse deeper data too (record.ts).
  if (tooDeep(data)) {
    throw new SessionStoreError("CONFIG", `the session data is too deep: it nests more than ${MAX_DEPTH} levels of objects and arrays (or refers to itself); nothing was written — keep the session flat`);
  }
}

/** What {@link diff} found: the top-level fields set (added or changed) and unset. */
export interface Delta {
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
  // defineProperty, not assignment: a field named "__proto__" must stay a field, never a prototype.
  for (const field of delta.set) Object.defineProperty(result, field, { value: mine[field], enumerable: true, writable: true, configurable: true });
  for (const field of delta.unset) delete result[field];
  return result;
}

const MAX_META_ENTRIES = 16;
const MAX_META_LENGTH = 512;

/**
 * Meta is display data from the request (user agent, IP): strings are kept (cut at 512 characters, 16
 * entries at most), anything else is dropped, so a missing header never fails a save.
 */
function cleanMeta(meta: unknown): Record<string, string> | undefined {
  if (meta === undefined) return undefined;
  if (!isPlainObject(meta)) throw new SessionStoreError("CONFIG", "meta must be a plain object of strings, such as { userAgent, ip }");
  const clean: Record<string, string> = {};
  for (const [name, value] of Object.entries(meta).slice(0, MAX_META_ENTRIES)) {
    if (typeof value === "string" && name !== "__proto__") clean[name] = value.slice(0, MAX_META_LENGTH);
  }
  return clean;
}

function assertUserId(value: unknown, what: string): string {
  if (typeof value !== "string" || value.length === 0 || value.length > MAX_USER_ID_LENGTH) {
    throw new SessionStoreError("CONFIG", `${what} must be a non-empty string of at most ${MAX_USER_ID_LENGTH} characters (got ${value === null ? "null" : typeof value})`);
  }
  return value;
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  return JSON.stringify(a) === JSON.stringify(b);
}
