import { EventEmitter } from "node:events";
import { jsonSerializer, SessionStoreError, type Backend, type CacheOperation, type CommandObserver, type CacheOperationContext, type CacheOutcome, type Serializer, type SetCondition } from "@sessionbridge/core";
import { backendFromUrl, cacheTracingChannels, createEncryption, Deadlines, isTraced, trace, withDeadline, type BodyTransform } from "@sessionbridge/core/adapter";
import { decodeEntry, encodeEntry, headerOf, type Entry } from "./entry.js";
import { FirstTier } from "./first-tier.js";
import { Health } from "./health.js";
import { runLoader, type Loader } from "./loader.js";
import { checkKey, checkLoadOptions, checkTags, resolveCacheOptions, type CacheOptions, type FreshnessOptions, type LoadOptions, type ResolvedCacheOptions } from "./options.js";
import { newGeneration, TAG_MARK, TAG_TTL_MS, tagsCurrent, unknownTags } from "./tags.js";

/**
 * Where a value came from:
 * - `hit`: a fresh cached value (or a cached "not found");
 * - `stale`: a stale value within `staleMs`, served at once while one caller refreshes it in the background;
 * - `grace`: a stale value within `graceMs`, served because the loader failed or timed out;
 * - `miss`: this call ran the loader;
 * - `joined`: another call in this process was loading the key, and this one shared its result;
 * - `waited`: another instance was loading the key (it held the lock), and this call read its result;
 * - `bypass`: the backend is down or hung, so the loader was called directly (fail open);
 * - `local`: a fresh value from the in-process first tier (`firstTier`), no round trip.
 */
export type LookupSource = "hit" | "stale" | "grace" | "miss" | "joined" | "waited" | "bypass" | "local";

export interface Lookup<V> {
  /** The value, or undefined for "not found". */
  value: V | undefined;
  source: LookupSource;
}

export interface SetOptions extends FreshnessOptions {
  /**
   * The value's version (a row version, or the time of the database write in ms): an entry of a higher
   * version is never replaced, so a slower, older write cannot overwrite a newer one. Default:
   * `versionOf(value)` when the cache has it, otherwise the time of this call.
   */
  version?: number;
}

/** What a write did: `written`; `older` (an entry of a higher version is there, nothing written); `unavailable` (the backend is down: the key is deleted once it is back). */
export type WriteOutcome = "written" | "older" | "unavailable";

export interface CacheEvents {
  /** The backend stopped answering; reported once per outage. Reads call the loader directly meanwhile. */
  unavailable: [error: Error];
  /** The backend answers again; writes missed during the outage have been replayed as deletions. */
  available: [];
  /** A stored value could not be decoded (another program's value, a wrong key, tampering): read as a miss. */
  corrupt: [key: string];
  /** A backend failure that did not fail the call (e.g. a value too large to cache). */
  error: [error: Error];
}

/** Most keys (and tags) remembered for deletion after an outage; past it the oldest are forgotten. */
const MAX_PENDING = 100_000;
/** Rounds of read + compare-and-set a write-through tries before it gives up (others kept winning). */
const MAX_WRITE_ROUNDS = 8;

interface Read<V> {
  text: string | null;
  entry: Entry<V> | null;
  /** Tag generations read with the entry. */
  generations: Map<string, string | null>;
}

export class Cache<V = unknown> {
  private readonly options: ResolvedCacheOptions;
  private readonly backend: Backend;
  private readonly deadlines: Deadlines;
  private readonly serializer: Serializer;
  private readonly transform: BodyTransform | undefined;
  private readonly versionOf: ((value: V) => number) | undefined;
  private readonly health: Health;
  private readonly events = new EventEmitter();
  private readonly flights = new Map<string, Promise<Lookup<V>>>();
  private readonly refreshing = new Set<string>();
  private readonly pendingKeys = new Set<string>();
  private readonly pendingTags = new Set<string>();
  private readonly local: FirstTier<V> | undefined;
  /** Bumped by every invalidation this process hears of: a read that started before one may not fill the first tier. */
  private localEpoch = 0;
  private readonly instanceId = newGeneration();
  private readonly channel: string;
  private readonly unsubscribe: (() => void) | undefined;
  /** The backend's kind (`redis`, `memcached`, `memory`), for the tracing channels. */
  private readonly system: string;
  private closed = false;

  constructor(options: CacheOptions<V>) {
    this.options = resolveCacheOptions(options as CacheOptions<never>);
    this.serializer = options.serializer ?? jsonSerializer;
    this.transform = options.encryptionKeys === undefined ? undefined : createEncryption({ keys: options.encryptionKeys, allowUnencryptedReads: false });
    this.versionOf = options.versionOf;
    this.backend = options.backend ?? backendFromUrl(options.url as string);
    this.backend.configure?.({ timeoutMs: this.options.timeoutMs });
    this.deadlines = new Deadlines(this.options.timeoutMs, this.backend.label);
    this.system = this.backend.label.split(" ")[0] ?? "unknown";
    this.health = new Health(
      this.options.probeIntervalMs,
      () => this.op("ping", () => this.backend.ping()),
      { unavailable: (error) => this.events.emit("unavailable", error), available: () => this.events.emit("available") },
      () => this.replayPending(),
    );
    this.channel = `${this.options.prefix}~i`;
    const tier = this.options.firstTier;
    if (tier !== undefined) {
      const pubsub = this.backend.capabilities.pubsub === true && this.backend.subscribe !== undefined;
      this.local = new FirstTier<V>(tier.maxEntries, tier.ttlMs ?? (pubsub ? 60_000 : 1000));
      // While the backend is unreachable, other instances' invalidations cannot reach us either.
      this.events.on("unavailable", () => this.dropLocal());
      if (pubsub) {
        this.unsubscribe = this.backend.subscribe!(this.channel, { message: (text) => this.onInvalidation(text), reset: () => this.dropLocal() });
      }
    }
  }

  /** The backend's label (e.g. `redis 127.0.0.1:6379`), never its credentials. */
  get label(): string {
    return this.backend.label;
  }

  /**
   * Lazy loading (cache-aside): the cached value, or the loader's, which is then cached. However many
   * callers miss the same key at once, the loader runs once in this process, and once across instances
   * that share the backend (a short lock in the backend). Resolves undefined for "not found".
   */
  async getOrLoad(key: string, loader: Loader<V>, options?: LoadOptions): Promise<V | undefined> {
    return (await this.lookup(key, loader, options)).value;
  }

  /** {@link getOrLoad}, also saying where the value came from (hit, miss, stale, …). */
  lookup(key: string, loader: Loader<V>, options?: LoadOptions): Promise<Lookup<V>> {
    checkKey(key);
    if (typeof loader !== "function") throw new SessionStoreError("CONFIG", 'cache: the loader must be a function ({ key, signal }) => value, or undefined for "not found"');
    const settings = checkLoadOptions(options, this.options);
    this.assertOpen();
    // The hit path: no closure unless someone listens.
    if (!isTraced(cacheTracingChannels.lookup)) return this.find(key, loader, settings, undefined);
    return this.traced("lookup", (observer) => this.find(key, loader, settings, observer), (found) => found.source);
  }

  /** `observer`: a traced operation's context, told the node of each command on the entry's key (backend.ts in core). */
  private find(key: string, loader: Loader<V>, settings: LoadSettings, observer: CommandObserver | undefined): Promise<Lookup<V>> {
    if (this.local !== undefined) {
      const held = this.local.get(key, Date.now());
      if (held !== undefined) return Promise.resolve({ value: held.value, source: "local" });
    }
    const running = this.flights.get(key);
    if (running !== undefined) return running.then(joined);
    const flight = this.resolve(key, loader, settings, observer).finally(() => this.flights.delete(key));
    this.flights.set(key, flight);
    return flight;
  }

  /** The fresh cached value, or undefined (a miss, "not found", or the backend is down). Never calls a loader. */
  async get(key: string, options?: { tags?: readonly string[] }): Promise<V | undefined> {
    checkKey(key);
    const tags = checkTags(options?.tags);
    this.assertOpen();
    if (!this.health.up) return undefined;
    const read = await this.read(key, tags).catch((error: unknown) => this.readFailed(error));
    if (read === null || read.entry === null) return undefined;
    return this.usable(read.entry, await this.generationsFor(read), Date.now()) === "fresh" ? read.entry.value : undefined;
  }

  /**
   * Write-through: after the application wrote its database, put the new value in the cache in the same
   * call path. An entry of a higher version stays (see {@link SetOptions.version}).
   */
  async set(key: string, value: V, options?: SetOptions): Promise<WriteOutcome> {
    checkKey(key);
    if (value === undefined) throw new SessionStoreError("CONFIG", "cache: set needs a value; use delete() for a row that is gone");
    const settings = checkLoadOptions(options, this.options);
    const version = options?.version ?? this.versionOf?.(value) ?? Date.now();
    if (!Number.isSafeInteger(version) || version < 0) throw new SessionStoreError("CONFIG", `cache: option "version" must be a whole number of at least 0 (got ${String(version)})`);
    this.assertOpen();
    return this.traced("set", (observer) => this.writeThrough(key, value, version, settings, observer), (outcome) => outcome);
  }

  private async writeThrough(key: string, value: V, version: number, settings: LoadSettings, observer: CommandObserver | undefined): Promise<WriteOutcome> {
    if (!this.health.up) return this.remember([key]);
    try {
      const generations = await this.currentGenerations(settings.tags);
      const outcome = await this.writeVersioned(key, value, version, settings, generations, observer);
      this.invalidateLocal({ k: [key] });
      return outcome;
    } catch (error) {
      if (this.health.failed(error)) return this.remember([key]);
      throw error;
    }
  }

  /** {@link set} for several entries (in parallel); resolves each one's outcome in order. */
  setMany(entries: ReadonlyArray<{ key: string; value: V } & SetOptions>): Promise<WriteOutcome[]> {
    return Promise.all(entries.map(({ key, value, ...options }) => this.set(key, value, options)));
  }

  /** Deletes entries; the next read loads them again. Resolves how many were there (0 while the backend is down). */
  async delete(keys: string | readonly string[]): Promise<number> {
    const list = (typeof keys === "string" ? [keys] : [...keys]).map(checkKey);
    this.assertOpen();
    return this.traced("delete", (observer) => this.deleteKeys(list, observer));
  }

  /** `observer` names the node of a one-key deletion only: several keys may live on several nodes. */
  private async deleteKeys(list: string[], observer: CommandObserver | undefined): Promise<number> {
    if (!this.health.up) {
      this.remember(list);
      return 0;
    }
    try {
      const count = await this.op("delete", () => this.backend.delete(list.map((key) => this.keyOf(key)), list.length === 1 ? observer : undefined));
      this.invalidateLocal({ k: list });
      return count;
    } catch (error) {
      if (this.health.failed(error)) {
        this.remember(list);
        return 0;
      }
      throw error;
    }
  }

  /** Invalidates every entry written with one of these tags: one backend write per tag, whatever the number of entries. */
  async invalidateTag(tags: string | readonly string[]): Promise<void> {
    const list = checkTags(typeof tags === "string" ? [tags] : tags);
    this.assertOpen();
    return this.traced("invalidateTag", (observer) => this.invalidateTags(list, list.length === 1 ? observer : undefined));
  }

  private async invalidateTags(list: readonly string[], observer: CommandObserver | undefined): Promise<void> {
    if (!this.health.up) {
      this.rememberTags(list);
      return;
    }
    try {
      await Promise.all(list.map((tag) => this.op("invalidate tag", () => this.backend.set(this.tagKey(tag), newGeneration(), TAG_TTL_MS, undefined, observer))));
      this.invalidateLocal({ t: list });
    } catch (error) {
      if (this.health.failed(error)) return this.rememberTags(list);
      throw error;
    }
  }

  on<E extends keyof CacheEvents>(event: E, listener: (...args: CacheEvents[E]) => void): this {
    this.events.on(event, listener as (...args: unknown[]) => void);
    return this;
  }

  off<E extends keyof CacheEvents>(event: E, listener: (...args: CacheEvents[E]) => void): this {
    this.events.off(event, listener as (...args: unknown[]) => void);
    return this;
  }

  /** Stops probing and closes the backend (pass the cache a backend of its own, not the session store's). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.health.close();
    this.unsubscribe?.();
    this.local?.clear();
    await withDeadline(this.backend.close(), this.options.timeoutMs, "close", this.backend.label).catch(() => undefined);
  }

  // ---- lazy loading ------------------------------------------------------------------------------

  private async resolve(key: string, loader: Loader<V>, settings: LoadSettings, observer: CommandObserver | undefined): Promise<Lookup<V>> {
    if (!this.health.up) return this.bypass(key, loader, settings);
    const epoch = this.localEpoch;
    let read: Read<V> | null;
    try {
      read = await this.read(key, settings.tags, observer);
    } catch (error) {
      if (this.health.failed(error)) return this.bypass(key, loader, settings);
      this.report(error);
      read = null;
    }
    const previous = read?.entry ?? null;
    if (read !== null && read.text !== null && previous === null) this.events.emit("corrupt", key);
    if (read !== null && previous !== null) {
      const generations = await this.generationsFor(read).catch(() => read.generations);
      const state = this.usable(previous, generations, Date.now());
      if (state === "fresh") {
        if (this.local !== undefined && epoch === this.localEpoch) this.local.set(key, previous.value, previous.freshUntilMs, previous.tags && Object.keys(previous.tags), Date.now());
        return { value: previous.value, source: "hit" };
      }
      if (state === "stale") {
        this.refreshInBackground(key, loader, settings, read);
        return { value: previous.value, source: "stale" };
      }
    }
    return this.loadShared(key, loader, settings, read, observer);
  }

  /** A miss: load under the cross-instance lock, or wait for the instance that holds it. */
  private async loadShared(key: string, loader: Loader<V>, settings: LoadSettings, read: Read<V> | null, observer: CommandObserver | undefined): Promise<Lookup<V>> {
    const lockKey = this.lockKey(key);
    const token = newGeneration();
    const giveUpAtMs = Date.now() + this.options.lockTtlMs;
    let locked = false;
    try {
      for (;;) {
        locked = (await this.op("lock", () => this.backend.set(lockKey, token, this.options.lockTtlMs, { kind: "absent" }))) === "ok";
        // Another instance may have stored the value and released the lock since our read: look again.
        const current = await this.read(key, settings.tags, observer);
        const found = await this.freshOf(current);
        if (found !== undefined) return { value: found.value, source: "waited" };
        if (locked) {
          read = current;
          break;
        }
        const waited = await this.waitForOther(key, lockKey, settings, giveUpAtMs, observer);
        if (waited !== undefined) return waited;
        if (Date.now() >= giveUpAtMs) break; // the other instance is too slow: load without the lock
      }
    } catch (error) {
      if (this.health.failed(error)) return this.bypass(key, loader, settings);
      this.report(error);
    }
    try {
      return await this.loadAndStore(key, loader, settings, read, observer);
    } finally {
      if (locked) this.op("unlock", () => this.backend.delete([lockKey])).catch((error: unknown) => this.health.failed(error) || this.report(error));
    }
  }

  /** Polls for the value another instance is loading; undefined when its lock went away without one, or time ran out. */
  private async waitForOther(key: string, lockKey: string, settings: LoadSettings, giveUpAtMs: number, observer: CommandObserver | undefined): Promise<Lookup<V> | undefined> {
    while (Date.now() < giveUpAtMs && !this.closed) {
      await sleep(this.options.lockPollMs);
      const [current, lock] = await Promise.all([this.read(key, settings.tags, observer), this.op("lock", () => this.backend.get(lockKey))]);
      const found = await this.freshOf(current);
      if (found !== undefined) return { value: found.value, source: "waited" };
      if (lock === null) return undefined;
    }
    return undefined;
  }

  private async loadAndStore(key: string, loader: Loader<V>, settings: LoadSettings, read: Read<V> | null, observer: CommandObserver | undefined): Promise<Lookup<V>> {
    const previous = read?.entry ?? null;
    // Tag generations are taken before the loader runs: an invalidation during the load leaves the
    // entry written with the old generation, so it is already invalid (never stale data marked current).
    let generations: Map<string, string | null> | undefined;
    if (settings.tags.length > 0 && this.health.up) {
      generations = await this.currentGenerations(settings.tags, read?.generations).catch((error: unknown) => {
        if (!this.health.failed(error)) this.report(error);
        return undefined;
      });
    }
    let value: V | undefined;
    try {
      value = await this.load(key, loader, settings);
    } catch (error) {
      if (previous !== null && Date.now() < previous.graceUntilMs) return { value: previous.value, source: "grace" };
      throw error;
    }
    if (this.health.up && (generations !== undefined || settings.tags.length === 0)) {
      await this.storeLoaded(key, value, settings, read, generations, observer).catch((error: unknown) => this.health.failed(error) || this.report(error));
    }
    return { value, source: "miss" };
  }

  /** Caches what a loader returned: create-only, or replacing exactly the entry the miss saw, so a newer write-through always wins. */
  private async storeLoaded(key: string, value: V | undefined, settings: LoadSettings, read: Read<V> | null, generations: Map<string, string | null> | undefined, observer: CommandObserver | undefined): Promise<void> {
    const previous = read?.entry ?? null;
    const condition: SetCondition = read?.text == null ? { kind: "absent" } : { kind: "version", prefix: previous?.header ?? headerOf(read.text) };
    if (value === undefined && settings.negativeTtlMs === 0) {
      if (read?.text != null) await this.op("delete", () => this.backend.delete([this.keyOf(key)], observer));
      return;
    }
    const own = value === undefined ? 0 : (this.versionOf?.(value) ?? 0);
    if (previous !== null && this.versionOf !== undefined && own < previous.version) return;
    const version = Math.max(own, previous?.version ?? 0);
    await this.write(key, value, version, settings, generations, condition, observer);
  }

  private refreshInBackground(key: string, loader: Loader<V>, settings: LoadSettings, read: Read<V>): void {
    if (this.refreshing.has(key)) return;
    this.refreshing.add(key);
    const refresh = async (): Promise<void> => {
      const lockKey = this.lockKey(key);
      const token = newGeneration();
      // Only the instance that gets the lock refreshes; the others keep serving the stale value.
      if ((await this.op("lock", () => this.backend.set(lockKey, token, this.options.lockTtlMs, { kind: "absent" }))) !== "ok") return;
      try {
        await this.loadAndStore(key, loader, settings, read, undefined); // outlives the lookup's trace
      } finally {
        await this.op("unlock", () => this.backend.delete([lockKey]));
      }
    };
    refresh()
      .catch((error: unknown) => this.health.failed(error) || this.report(error))
      .finally(() => this.refreshing.delete(key));
  }

  private async bypass(key: string, loader: Loader<V>, settings: LoadSettings): Promise<Lookup<V>> {
    return { value: await this.load(key, loader, settings), source: "bypass" };
  }

  /** One loader call (the database query a miss costs), traced on `sessionbridge:cache.load`. */
  private load(key: string, loader: Loader<V>, settings: LoadSettings): Promise<V | undefined> {
    return this.traced("load", () => runLoader(key, loader, settings.loaderTimeoutMs), (value) => (value === undefined ? "notFound" : "found"));
  }

  // ---- reading -----------------------------------------------------------------------------------

  /** The entry and the generations of `tags`, in one turn (one round trip where the backend batches). */
  private async read(key: string, tags: readonly string[], observer?: CommandObserver): Promise<Read<V>> {
    const backendKey = this.keyOf(key);
    const generations = new Map<string, string | null>();
    let text: string | null;
    if (tags.length === 0) {
      text = await this.op("get", () => this.backend.get(backendKey, undefined, observer));
    } else {
      const replies = await Promise.all([this.op("get", () => this.backend.get(backendKey, undefined, observer)), ...tags.map((tag) => this.op("get", () => this.backend.get(this.tagKey(tag))))]);
      text = replies[0] as string | null;
      tags.forEach((tag, index) => generations.set(tag, replies[index + 1] as string | null));
    }
    const entry = text === null ? null : decodeEntry<V>(text, backendKey, this.serializer, this.transform);
    return { text, entry, generations };
  }

  /** The generations of every tag the entry recorded: a second round trip only for tags the caller did not name. */
  private async generationsFor(read: Read<V>): Promise<Map<string, string | null>> {
    const missing = unknownTags(read.entry?.tags, read.generations);
    if (missing.length === 0) return read.generations;
    const replies = await Promise.all(missing.map((tag) => this.op("get", () => this.backend.get(this.tagKey(tag)))));
    missing.forEach((tag, index) => read.generations.set(tag, replies[index] as string | null));
    return read.generations;
  }

  private usable(entry: Entry<V>, generations: ReadonlyMap<string, string | null>, nowMs: number): "fresh" | "stale" | "expired" {
    if (!tagsCurrent(entry.tags, generations)) return "expired"; // invalidated: only a failing loader may still fall back on it (grace)
    if (nowMs < entry.freshUntilMs) return "fresh";
    return nowMs < entry.staleUntilMs ? "stale" : "expired";
  }

  private async freshOf(read: Read<V>): Promise<Entry<V> | undefined> {
    if (read.entry === null) return undefined;
    return this.usable(read.entry, await this.generationsFor(read), Date.now()) === "fresh" ? read.entry : undefined;
  }

  private readFailed(error: unknown): null {
    if (!this.health.failed(error)) this.report(error);
    return null;
  }

  // ---- writing -----------------------------------------------------------------------------------

  /** Current generations of `tags`, creating those that do not exist yet (create-only, so two creators agree). */
  private async currentGenerations(tags: readonly string[], known?: ReadonlyMap<string, string | null>): Promise<Map<string, string | null> | undefined> {
    if (tags.length === 0) return undefined;
    const result = new Map<string, string | null>();
    await Promise.all(
      tags.map(async (tag) => {
        const tagKey = this.tagKey(tag);
        let generation = known?.get(tag) ?? (await this.op("get", () => this.backend.get(tagKey)));
        for (let round = 0; generation === null && round < 3; round++) {
          const fresh = newGeneration();
          if ((await this.op("create tag", () => this.backend.set(tagKey, fresh, TAG_TTL_MS, { kind: "absent" }))) === "ok") generation = fresh;
          else generation = await this.op("get", () => this.backend.get(tagKey));
        }
        result.set(tag, generation);
      }),
    );
    return result;
  }

  /** Read the entry, and replace it only when its version is not higher (compare-and-set on its header). */
  private async writeVersioned(key: string, value: V, version: number, settings: LoadSettings, generations: Map<string, string | null> | undefined, observer: CommandObserver | undefined): Promise<WriteOutcome> {
    const backendKey = this.keyOf(key);
    for (let round = 0; round < MAX_WRITE_ROUNDS; round++) {
      const text = await this.op("get", () => this.backend.get(backendKey, undefined, observer));
      const current = text === null ? null : decodeEntry<V>(text, backendKey, this.serializer, this.transform);
      if (current !== null && current.version > version) return "older";
      const condition: SetCondition = text === null ? { kind: "absent" } : { kind: "version", prefix: current?.header ?? headerOf(text) };
      if ((await this.write(key, value, version, settings, generations, condition, observer)) !== "lost") return "written";
    }
    throw new SessionStoreError("CONFLICT", `cache: a write kept losing to concurrent writes of the same key (${MAX_WRITE_ROUNDS} rounds) — is one key written in a tight loop?`, { backend: this.backend.label });
  }

  private async write(key: string, value: V | undefined, version: number, settings: LoadSettings, generations: Map<string, string | null> | undefined, condition: SetCondition, observer: CommandObserver | undefined): Promise<"ok" | "lost" | "skipped"> {
    const now = Date.now();
    const negative = value === undefined;
    const base = negative ? settings.negativeTtlMs : settings.ttlMs;
    const freshMs = Math.max(1, Math.round(base * (1 - this.options.jitter * Math.random())));
    const extraMs = negative ? 0 : Math.max(settings.staleMs, settings.graceMs);
    let tags: Record<string, string> | undefined;
    if (generations !== undefined) {
      tags = {};
      for (const [tag, generation] of generations) {
        if (generation === null) return "skipped"; // the tag could not be created: an entry we could not invalidate is not cached
        tags[tag] = generation;
      }
    }
    const backendKey = this.keyOf(key);
    const freshUntilMs = now + freshMs;
    const { text } = encodeEntry<V>(
      { version, negative, value, freshUntilMs, staleUntilMs: freshUntilMs + (negative ? 0 : settings.staleMs), graceUntilMs: freshUntilMs + (negative ? 0 : settings.graceMs), tags },
      backendKey,
      this.serializer,
      this.transform,
    );
    if (Buffer.byteLength(text) > this.options.maxBytes) {
      this.report(new SessionStoreError("TOO_LARGE", `cache: an entry of ${Buffer.byteLength(text)} bytes is more than maxBytes (${this.options.maxBytes}); it was served but not cached`));
      return "skipped";
    }
    const result = await this.op("set", () => this.backend.set(backendKey, text, freshMs + extraMs, condition, observer));
    return result === "ok" ? "ok" : "lost";
  }

  // ---- outages -----------------------------------------------------------------------------------

  private remember(keys: readonly string[]): "unavailable" {
    for (const key of keys) {
      if (this.pendingKeys.size >= MAX_PENDING) this.pendingKeys.delete(this.pendingKeys.values().next().value as string);
      this.pendingKeys.add(key);
    }
    return "unavailable";
  }

  private rememberTags(tags: readonly string[]): void {
    for (const tag of tags) this.pendingTags.add(tag);
  }

  /** After an outage: what the application wrote meanwhile is deleted from the cache, so no stale entry outlives it. */
  private async replayPending(): Promise<void> {
    const keys = [...this.pendingKeys];
    const tags = [...this.pendingTags];
    for (let start = 0; start < keys.length; start += 500) {
      const batch = keys.slice(start, start + 500);
      await this.op("delete", () => this.backend.delete(batch.map((key) => this.keyOf(key))));
      for (const key of batch) this.pendingKeys.delete(key);
      this.invalidateLocal({ k: batch });
    }
    await Promise.all(tags.map((tag) => this.op("invalidate tag", () => this.backend.set(this.tagKey(tag), newGeneration(), TAG_TTL_MS))));
    for (const tag of tags) this.pendingTags.delete(tag);
    if (tags.length > 0) this.invalidateLocal({ t: tags });
  }

  // ---- the first tier ----------------------------------------------------------------------------

  /** Drops the entries here, and tells the other instances (best effort: a lost message is bounded by the first tier's ttlMs). */
  private invalidateLocal(change: { k?: readonly string[]; t?: readonly string[] }): void {
    if (this.local === undefined) return;
    this.applyInvalidation(change);
    if (this.backend.publish === undefined) return;
    const message = JSON.stringify({ o: this.instanceId, ...change });
    this.op("publish", () => (this.backend.publish as (channel: string, message: string) => Promise<void>)(this.channel, message)).catch((error: unknown) => this.report(error));
  }

  private applyInvalidation(change: { k?: readonly string[]; t?: readonly string[] }): void {
    this.localEpoch++;
    if (change.k !== undefined) this.local?.delete(change.k);
    if (change.t !== undefined) this.local?.deleteTags(change.t);
  }

  private onInvalidation(text: string): void {
    let change: unknown;
    try {
      change = JSON.parse(text);
    } catch {
      return;
    }
    if (change === null || typeof change !== "object") return;
    const { o, k, t } = change as { o?: unknown; k?: unknown; t?: unknown };
    if (o === this.instanceId) return;
    const strings = (value: unknown) => (Array.isArray(value) && value.every((item) => typeof item === "string") ? (value as string[]) : undefined);
    const keys = strings(k);
    const tags = strings(t);
    if (keys === undefined && tags === undefined) return;
    this.applyInvalidation({ ...(keys === undefined ? {} : { k: keys }), ...(tags === undefined ? {} : { t: tags }) });
  }

  private dropLocal(): void {
    this.localEpoch++;
    this.local?.clear();
  }

  // ---- helpers -----------------------------------------------------------------------------------

  /**
   * Runs a public operation inside its `sessionbridge:cache.<operation>` trace when anyone listens (APM
   * tools, @sessionbridge/opentelemetry), else as it is: one `hasSubscribers` check on the hit path. A
   * traced `work` gets the context as the observer of its backend commands (it names the node).
   */
  private traced<R>(operation: CacheOperation, work: (observer: CommandObserver | undefined) => Promise<R>, outcome?: (result: R) => CacheOutcome): Promise<R> {
    const channel = cacheTracingChannels[operation];
    if (!isTraced(channel)) return work(undefined);
    const context: CacheOperationContext = { operation, system: this.system, backend: this.backend.label, prefix: this.options.prefix };
    return trace(channel, context, () =>
      work(context).then((result) => {
        if (outcome !== undefined) context.outcome = outcome(result);
        return result;
      }),
    );
  }

  private op<T>(what: string, work: () => Promise<T>): Promise<T> {
    return this.deadlines.run(what, work);
  }

  private keyOf(key: string): string {
    return this.options.prefix + key;
  }

  private tagKey(tag: string): string {
    return this.options.prefix + TAG_MARK + tag;
  }

  private lockKey(key: string): string {
    return `${this.options.prefix}~l.${key}`;
  }

  private report(error: unknown): boolean {
    if (this.events.listenerCount("error") > 0) this.events.emit("error", error instanceof Error ? error : new Error(String(error)));
    return true;
  }

  private assertOpen(): void {
    if (this.closed) throw new SessionStoreError("CLOSED", "cache: closed — create a new cache", { backend: this.backend.label });
  }
}

type LoadSettings = ReturnType<typeof checkLoadOptions>;

function joined<V>(result: Lookup<V>): Lookup<V> {
  return result.source === "miss" || result.source === "waited" ? { value: result.value, source: "joined" } : result;
}

// Not unref'd: a caller is awaiting this wait, so the process must stay up for it.
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Creates a cache over one of the core's backends. */
export function createCache<V = unknown>(options: CacheOptions<V>): Cache<V> {
  return new Cache<V>(options);
}

