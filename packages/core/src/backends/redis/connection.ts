import type { Redis } from "ioredis";
import type { CommandObserver } from "../../backend.js";
import type { ServedBy } from "../../tracing.js";
import { SessionStoreError } from "../../errors.js";
import { promiseOf } from "../../promise-of.js";
import { BackendEmitter } from "../emitter.js";
import { hostPort } from "../host-port.js";
import { applyTimeout, type RedisClient } from "./client.js";
import { ioredisCommands, type RedisCommands } from "./client-commands.js";
import { answersPlain, answersTls, isPlainReplyToTls, tlsMismatchError } from "../tls-mismatch.js";
import { WriteBatching } from "./write-batching.js";
import { authError, isAuthError, isCertificateError, isConnectionError, isRetryableReply, isSelectError, mapRedisError, reason, safeCause, selectError } from "./errors.js";

/** The default deadline when the backend is used without a store (the store calls configure). */
const DEFAULT_TIMEOUT_MS = 1000;

/**
 * A TLS handshake still unfinished this long after an operation started waiting gets a side probe
 * (does the port answer plain text?). A healthy handshake is done long before; a probe of a real TLS
 * server only costs one extra connection.
 */
const TLS_PROBE_DELAY_MS = 100;
/** At most one TLS probe this often, whatever the number of waiting operations. */
const TLS_PROBE_INTERVAL_MS = 2000;

const REDIS_TLS_FIXES = { useTls: "use a rediss:// URL (or the tls option)", usePlain: "use redis:// instead of rediss:// and leave out the tls option" };

/**
 * What a connection uses of a client's lifecycle: ioredis's own surface (its status names, its 'ready',
 * 'error', 'close' and 'end' events). ioredis clients are it; node-redis clients are adapted to it
 * (node-redis-lifecycle.ts). The commands go through `RedisCommands` (client-commands.ts).
 */
export interface ClientLifecycle {
  /** ioredis's names: "wait" (not connected yet), "connecting", "connect" (socket up, handshake pending), "ready", "reconnecting", "close", "end". */
  readonly status: string;
  on(event: string, listener: (...args: any[]) => void): unknown;
  off(event: string, listener: (...args: any[]) => void): unknown;
  connect(): Promise<unknown>;
  disconnect(reconnect?: boolean): void;
  quit(): Promise<unknown>;
  /** The store's deadline, for a client adapter that watches for hung connections. */
  setTimeoutMs?(timeoutMs: number): void;
  /** Called once when the backend closes: remove what the adapter added to a caller's client. */
  release?(): void;
  /** node-redis: a failed SELECT fails the connect handshake and no 'ready' follows (ioredis goes on in db 0 and is 'ready'). */
  readonly selectFailsConnect?: boolean;
}

interface Waiter {
  afterEpoch: number;
  resolve: () => void;
  reject: (error: SessionStoreError) => void;
  timer: NodeJS.Timeout;
  what: string;
}

/**
 * One client under the store's deadline: commands go out only on a ready connection (never
 * queued to run late), each waits for readiness at most until its deadline, READONLY / LOADING replies
 * reconnect and retry once, and connection changes become `unavailable` / `available` events.
 */
export class RedisConnection {
  readonly events = new BackendEmitter();
  timeoutMs = DEFAULT_TIMEOUT_MS;
  private lastError: unknown;
  /** Counts 'ready' events, so a retry can wait for a connection newer than the one that failed. */
  private epoch = 0;
  private reconnectRequestedAt = -1;
  private up: boolean | undefined;
  private closed = false;
  private readonly waiters = new Set<Waiter>();
  private readonly detach: Array<() => void> = [];
  private readonly batching = new WriteBatching();
  /** The SELECT of the connection being set up failed (reported before its 'ready'). */
  private selectFailure: unknown;
  /** Set while the ready connection is in the wrong database: every operation fails with it, at once. */
  private wrongDb: SessionStoreError | undefined;
  /** TLS on one side only (see ../tls-mismatch.ts): operations fail with it at once until a connection is ready. */
  private tlsMismatch: SessionStoreError | undefined;
  private tlsProbeAt = Number.NEGATIVE_INFINITY;

  /** The commands, sent only through `run`. */
  readonly commands: RedisCommands;
  /** What this connection is to the tracing channels' `node` (a reader connection is a `replica`). */
  role: "primary" | "replica" = "primary";

  constructor(
    readonly client: ClientLifecycle,
    /** True when this backend created the client (and so configures, connects and closes it). */
    readonly owned: boolean,
    readonly label: string,
    /** The ACL user, for messages. For a caller's client, read from its options when not given. */
    readonly username: string | undefined,
    /** Default: the client is an ioredis client. */
    commands?: RedisCommands,
  ) {
    this.commands = commands ?? ioredisCommands(client as unknown as RedisClient);
    if (username === undefined && !owned) {
      const fromClient = (client as { options?: { username?: unknown } }).options?.username;
      if (typeof fromClient === "string") this.username = fromClient;
    }
    this.listen("ready", () => this.onReady());
    this.listen("error", (error: unknown) => this.onError(error));
    this.listen("close", () => this.onDown());
    this.listen("end", () => this.onDown());
    if (client.status === "ready") this.epoch = 1;
  }

  configure(timeoutMs: number): void {
    this.timeoutMs = timeoutMs;
    if (this.owned) applyTimeout(this.client as unknown as RedisClient, timeoutMs);
    this.client.setTimeoutMs?.(timeoutMs);
    this.start();
  }

  /**
   * Runs one command under the deadline: waits for readiness, sends, maps errors, retries once after
   * READONLY/LOADING. `observer` (a traced operation's, see backend.ts) learns the server it went to.
   * The usual case (connected, first attempt) is one `then` for the error mapping, not an async frame per
   * command; everything else goes through `runWhenReady`.
   */
  run<T>(what: string, send: (client: RedisCommands) => Promise<T>, observer?: CommandObserver): Promise<T> {
    if (this.closed || this.client.status !== "ready" || this.wrongDb !== undefined) return this.runWhenReady(what, send, observer, this.deadlineFor(Date.now()), 1, 0);
    const startedMs = Date.now();
    const sentOn = this.epoch;
    return promiseOf(() => this.send(send, observer)).then(undefined, (error: unknown) => {
      const deadlineAt = this.deadlineFor(startedMs);
      if (!this.retryAfter(error, 1, deadlineAt, sentOn)) throw mapRedisError(error, this.context(what));
      return this.runWhenReady(what, send, observer, deadlineAt, 2, sentOn + 1);
    });
  }

  /**
   * After a failed attempt: true, and reconnecting, when it was the first, the reply proves the command
   * did not run (READONLY/LOADING: a failover or restart is under way) and the deadline leaves time for
   * one more. The reconnect makes ElastiCache's primary endpoint resolve to the new primary.
   */
  private retryAfter(error: unknown, attempt: number, deadlineAt: number, sentOn: number): boolean {
    if (attempt !== 1 || !isRetryableReply(error) || Date.now() >= deadlineAt) return false;
    this.reconnect(sentOn);
    return true;
  }

  /** End slightly before the store's own deadline so the caller sees our more precise reason. */
  private deadlineFor(startedMs: number): number {
    return startedMs + this.timeoutMs - Math.min(20, Math.floor(this.timeoutMs / 20));
  }

  private send<T>(send: (client: RedisCommands) => Promise<T>, observer: CommandObserver | undefined): Promise<T> {
    this.batching.beforeSend(this.client);
    // A Cluster's node depends on the key: topology-backend.ts names the key's master instead.
    if (observer !== undefined && !this.commands.isCluster) observer.node = this.servedBy();
    return send(this.commands);
  }

  /** `run` from attempt `first` on: waits until ready (and past epoch `afterEpoch`) before each attempt. */
  private async runWhenReady<T>(what: string, send: (client: RedisCommands) => Promise<T>, observer: CommandObserver | undefined, deadlineAt: number, first: number, afterEpoch: number): Promise<T> {
    for (let attempt = first; ; attempt++) {
      if (this.closed) throw this.closedError();
      if (this.client.status !== "ready" || this.epoch < afterEpoch) await this.whenReady(what, deadlineAt, afterEpoch);
      // ioredis goes on in db 0 after a failed SELECT: never send a command there.
      if (this.wrongDb !== undefined) throw this.wrongDb;
      const sentOn = this.epoch;
      try {
        return await this.send(send, observer);
      } catch (error) {
        if (!this.retryAfter(error, attempt, deadlineAt, sentOn)) throw mapRedisError(error, this.context(what));
        afterEpoch = sentOn + 1;
      }
    }
  }

  /**
   * The address this connection talks to: the socket's peer when connected (Sentinel resolves it), else
   * the one in its label. Undefined for a Cluster (each command picks its node) and clients that do not say.
   */
  address(): string | undefined {
    if (this.commands.isCluster) return undefined;
    const stream = (this.client as unknown as { stream?: { remoteAddress?: string; remotePort?: number } }).stream;
    if (stream?.remoteAddress !== undefined && stream.remotePort !== undefined) return hostPort(stream.remoteAddress, stream.remotePort);
    const configured = /^redis (\S+:\d+)/.exec(this.label)?.[1];
    return configured;
  }

  /** This connection as a tracing context's `node`. */
  private servedBy(): ServedBy {
    const address = this.address();
    return address === undefined ? { role: this.role } : { role: this.role, address };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const waiter of [...this.waiters]) this.settle(waiter, this.closedError());
    for (const off of this.detach) off();
    this.client.release?.();
    if (!this.owned) return; // the caller's client: theirs to close (ours keep an 'error' listener: client.ts)
    if (this.client.status === "ready") {
      await Promise.race([this.client.quit().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, this.timeoutMs).unref())]);
    }
    this.client.disconnect();
  }

  /**
   * Starts connecting a client that has not connected yet (lazyConnect), as ioredis itself would on the
   * first command; a client we own is also reopened after 'end'. A caller's client that ended stays closed.
   */
  private start(): void {
    if (!this.closed && (this.client.status === "wait" || (this.owned && this.client.status === "end"))) {
      this.client.connect().catch(() => undefined); // failures arrive as 'error' / 'close' events
    }
  }

  private reconnect(sentOn: number): void {
    if (this.reconnectRequestedAt === sentOn || this.epoch !== sentOn) return; // someone already did
    this.reconnectRequestedAt = sentOn;
    if (this.client.status === "ready") this.client.disconnect(true);
  }

  private whenReady(what: string, deadlineAt: number, afterEpoch: number): Promise<void> {
    this.start();
    if (isAuthError(this.lastError)) return Promise.reject(authError(this.lastError, this.context("connect")));
    if (this.wrongDb !== undefined) return Promise.reject(this.wrongDb);
    if (this.tlsMismatch !== undefined) return Promise.reject(this.tlsMismatch);
    if (this.endpoint()?.tls === true) this.probeTls(isConnectionError(this.lastError) ? 0 : TLS_PROBE_DELAY_MS);
    if (this.client.status === "end" && !this.owned) {
      return Promise.reject(new SessionStoreError("UNAVAILABLE", `${this.label}: the client given as "client" was closed`, { backend: this.label }));
    }
    if (this.client.status === "wait" && !this.owned) {
      // node-redis clients are connected by their owner (`await client.connect()`), never by the store.
      return Promise.reject(new SessionStoreError("UNAVAILABLE", `${this.label}: the client given as "client" is not connected — call its connect() (and await it) before the store is used`, { backend: this.label }));
    }
    // The server refused the last connection attempt (or its certificate) and the next attempt is
    // scheduled: answer now instead of holding the request (the web tier can show its error page at
    // once); reconnects continue in the background.
    if (this.client.status === "reconnecting" && (isConnectionError(this.lastError) || isCertificateError(this.lastError)) && afterEpoch === 0) {
      return Promise.reject(this.notReady(what));
    }
    return new Promise<void>((resolve, reject) => {
      const remaining = deadlineAt - Date.now();
      const waiter: Waiter = { afterEpoch, resolve, reject, what, timer: undefined as unknown as NodeJS.Timeout };
      waiter.timer = setTimeout(() => this.settle(waiter, this.notReady(what)), Math.max(0, remaining));
      waiter.timer.unref?.();
      this.waiters.add(waiter);
    });
  }

  private settle(waiter: Waiter, error?: SessionStoreError): void {
    if (!this.waiters.delete(waiter)) return;
    clearTimeout(waiter.timer);
    if (error) waiter.reject(error);
    else waiter.resolve();
  }

  private onReady(): void {
    this.epoch++;
    this.lastError = undefined;
    this.tlsMismatch = undefined;
    if (this.selectFailure !== undefined) return this.onWrongDb();
    this.wrongDb = undefined;
    for (const waiter of [...this.waiters]) if (this.epoch >= waiter.afterEpoch) this.settle(waiter);
    if (this.up !== true && !this.closed) {
      this.up = true;
      this.events.emit("available");
    }
  }

  private onError(error: unknown): void {
    if (isSelectError(error)) {
      this.selectFailure = error;
      // No 'ready' will come to report it: the client retries the handshake (and fails) by itself.
      if (this.client.selectFailsConnect === true) this.onWrongDb();
      return;
    }
    this.lastError = error;
    const endpoint = this.endpoint();
    if (endpoint?.tls === true && isPlainReplyToTls(error)) this.onTlsMismatch(tlsMismatchError(this.label, "tls-to-plain", REDIS_TLS_FIXES, safeCause(error)));
    // A plain connection reset before it was ever ready: a TLS-only port does exactly that.
    else if (endpoint?.tls === false && this.client.status !== "ready" && /^(ECONNRESET|EPIPE)$/.test(String((error as { code?: unknown })?.code))) this.probeTls(0);
    if (isAuthError(error) || isCertificateError(error)) {
      // Wrong credentials or an untrusted certificate will not fix themselves within a request's
      // deadline: fail the waiters now.
      for (const waiter of [...this.waiters]) this.settle(waiter, this.notReady(waiter.what));
    }
  }

  /**
   * Connected, but the configured database could not be selected: fail every operation with a CONFIG
   * error naming the database instead of using db 0. A later reconnect that selects it clears this.
   */
  private onWrongDb(): void {
    const failure = this.selectFailure;
    this.selectFailure = undefined;
    const db = Number((this.client as unknown as Redis).options?.db ?? 0);
    this.wrongDb = selectError(failure, this.label, db, undefined);
    const announce = () => {
      for (const waiter of [...this.waiters]) this.settle(waiter, this.wrongDb);
      if (this.up !== false && !this.closed && this.wrongDb !== undefined) {
        this.up = false;
        this.events.emit("unavailable", this.wrongDb);
      }
    };
    // A node-redis client whose handshake failed cannot ask the server anything.
    if (typeof (this.client as Partial<Redis>).config !== "function") return announce();
    // Ask how many databases the server has, for the message (best effort: ElastiCache refuses CONFIG).
    const epoch = this.epoch;
    (this.client as unknown as Redis)
      .config("GET", "databases")
      .then((reply) => {
        // RESP2 answers [name, value]; RESP3 a map, which ioredis may hand over as an object.
        const databases = Number(Array.isArray(reply) ? reply[1] : (reply as Record<string, unknown> | null)?.databases);
        if (this.epoch === epoch && this.wrongDb !== undefined && Number.isInteger(databases) && databases > 0) this.wrongDb = selectError(failure, this.label, db, databases);
      })
      .catch(() => undefined)
      .finally(announce);
  }

  /** Where a standalone client connects, for the TLS probe; undefined for Cluster and Sentinel clients. */
  private endpoint(): { host: string; port: number; tls: boolean } | undefined {
    if ((this.client as { isCluster?: boolean }).isCluster === true) return undefined;
    const options = (this.client as unknown as Redis).options;
    if (options === undefined || (options.sentinels?.length ?? 0) > 0 || options.path !== undefined) return undefined;
    return { host: options.host ?? "127.0.0.1", port: options.port ?? 6379, tls: options.tls !== undefined && (options.tls as unknown) !== false };
  }

  /** Asks the server on a side connection whether it speaks the other protocol (TLS vs plain). */
  private probeTls(delayMs: number): void {
    const endpoint = this.endpoint();
    if (endpoint === undefined || this.closed || this.tlsMismatch !== undefined || Date.now() - this.tlsProbeAt < TLS_PROBE_INTERVAL_MS) return;
    this.tlsProbeAt = Date.now() + delayMs;
    // Re-read after the await: the real connection may have come up (or the backend closed) meanwhile.
    const settled = (): boolean => this.closed || this.client.status === "ready";
    const probe = async () => {
      if (settled()) return;
      const { host, port, tls } = endpoint;
      const timeoutMs = Math.max(this.timeoutMs, 200);
      const other = tls ? await answersPlain(host, port, "PING\r\n", timeoutMs) : await answersTls(host, port, timeoutMs);
      if (other && !settled()) this.onTlsMismatch(tlsMismatchError(this.label, tls ? "tls-to-plain" : "plain-to-tls", REDIS_TLS_FIXES, safeCause(this.lastError)));
    };
    setTimeout(() => void probe(), delayMs).unref();
  }

  private onTlsMismatch(error: SessionStoreError): void {
    this.tlsMismatch = error;
    for (const waiter of [...this.waiters]) this.settle(waiter, error);
    if (this.closed) return;
    if (this.up !== false) {
      this.up = false;
      this.events.emit("unavailable", error);
    } else this.events.emit("error", error); // 'unavailable' already went out with the bare socket error
  }

  private onDown(): void {
    this.selectFailure = undefined; // it concerned the connection that just closed
    if (this.closed || this.up === false) return;
    this.up = false;
    this.events.emit("unavailable", this.notReady("connection"));
  }

  private notReady(what: string): SessionStoreError {
    if (this.wrongDb !== undefined) return this.wrongDb;
    if (this.tlsMismatch !== undefined) return this.tlsMismatch;
    if (isAuthError(this.lastError)) return authError(this.lastError, this.context(what));
    // A connection that was up and went away is "lost", even when it closed without an error (a
    // server shut down cleanly); "not connected yet" is only for one that never came up.
    const lost = this.epoch > 0;
    const why =
      this.client.status === "connect"
        ? "connected, but the server has not answered (hung or overloaded)"
        : this.lastError === undefined
          ? lost
            ? "connection lost"
            : "not connected yet"
          : `${lost ? "connection lost" : "not connected"} (${reason(this.lastError)})`;
    const failed = what === "connection" ? "" : `${what} failed: `;
    return new SessionStoreError("UNAVAILABLE", `${this.label}: ${failed}${why} — is the server running and reachable? The backend keeps reconnecting`, {
      cause: safeCause(this.lastError),
      backend: this.label,
    });
  }

  private closedError(): SessionStoreError {
    return new SessionStoreError("CLOSED", `${this.label}: the backend was closed`, { backend: this.label });
  }

  private context(what: string) {
    return { label: this.label, username: this.username, what };
  }

  private listen(event: string, listener: (...args: never[]) => void): void {
    const client = this.client as unknown as NodeJS.EventEmitter;
    client.on(event, listener as (...args: unknown[]) => void);
    this.detach.push(() => client.off(event, listener as (...args: unknown[]) => void));
  }
}
