import { EventEmitter } from "node:events";
import type { ClientLifecycle } from "./connection.js";
import { HangWatch } from "./hang-watch.js";
import { nodeRedisEndpoint, type NodeRedisClient, type NodeRedisKind } from "./node-redis.js";

/** How often a client that is not ready is looked at again (node-redis Cluster and Sentinel have no 'ready' event). */
const READY_POLL_MS = 50;

/**
 * A caller's node-redis client seen through ioredis's lifecycle surface (connection.ts): its status
 * names and its 'ready' / 'error' / 'close' / 'end' events. The caller owns the client: it is never
 * connected, reconnected or closed from here, and `release` removes every listener this added.
 *
 * A connection that stopped answering (HangWatch) reads as "connect" (up, but silent) and announces
 * 'close'; its next answer announces 'ready' again.
 */
export class NodeRedisLifecycle extends EventEmitter implements ClientLifecycle {
  readonly isCluster: boolean;
  /** For the TLS probe and labels (connection.ts reads ioredis-style options): standalone clients only. */
  readonly options: { host: string; port: number; tls: true | undefined; db: number; username: string | undefined } | undefined;
  readonly watch: HangWatch;
  /** node-redis fails its connect handshake when SELECT fails, and retries it: no 'ready' follows. */
  readonly selectFailsConnect = true;
  /** The store's deadline (set through configure). */
  timeoutMs = 1000;
  private readonly timeoutListeners: Array<(timeoutMs: number) => void> = [];
  private reconnecting = false;
  private ended = false;
  private announcedReady: boolean;
  private poll: NodeJS.Timeout | undefined;
  private readonly detach: Array<() => void> = [];

  constructor(
    readonly client: NodeRedisClient,
    readonly kind: NodeRedisKind,
  ) {
    super();
    this.isCluster = kind === "cluster";
    const endpoint = kind === "client" ? nodeRedisEndpoint(client) : undefined;
    this.options = endpoint === undefined ? undefined : { ...endpoint, tls: endpoint.tls ? true : undefined };
    this.announcedReady = this.isReadyNow();
    this.watch = new HangWatch(1000, (hung) => (hung ? this.announceDown("close") : this.announceReady()));
    this.listen("error", (error: unknown) => this.emit("error", error));
    if (kind === "client") {
      this.listen("ready", () => {
        this.reconnecting = false;
        this.announceReady();
      });
      this.listen("reconnecting", () => {
        this.reconnecting = true;
        this.announceDown("close");
      });
      this.listen("end", () => {
        this.ended = true;
        this.announceDown("end");
      });
    } else if (kind === "cluster") {
      this.listen("connect", () => this.announceReady());
      this.listen("disconnect", () => {
        this.ended = true;
        this.announceDown("end");
      });
    }
  }

  get status(): string {
    if (this.watch.hung) return "connect";
    if (this.isReadyNow()) return "ready";
    this.pollUntilReady();
    if (this.client.isOpen) return this.reconnecting ? "reconnecting" : "connecting";
    return this.ended ? "end" : "wait";
  }

  setTimeoutMs(timeoutMs: number): void {
    this.timeoutMs = timeoutMs;
    this.watch.setTimeoutMs(timeoutMs);
    for (const listener of this.timeoutListeners) listener(timeoutMs);
  }

  onTimeoutMs(listener: (timeoutMs: number) => void): void {
    this.timeoutListeners.push(listener);
  }

  /** The caller connects their client (node-redis needs `await client.connect()`): never done from here. */
  connect(): Promise<void> {
    return Promise.resolve();
  }

  /**
   * `disconnect(true)` is how the connection asks for a fresh connection before retrying a READONLY /
   * LOADING reply once. node-redis reconnects by itself (a Sentinel client follows the new master), so
   * the retry may go at once on the client as it is.
   */
  disconnect(reconnect?: boolean): void {
    if (reconnect === true && this.isReadyNow()) this.emit("ready");
  }

  quit(): Promise<void> {
    return Promise.resolve();
  }

  /** Removes every listener this added to the caller's client. */
  release(): void {
    for (const off of this.detach.splice(0)) off();
    clearInterval(this.poll);
    this.poll = undefined;
    this.watch.stop();
  }

  private isReadyNow(): boolean {
    // A Cluster is usable once open (it has its slot map); its nodes are checked per command.
    if (this.kind === "cluster") return this.client.isOpen;
    return (this.client as { isReady?: boolean }).isReady === true;
  }

  private announceReady(): void {
    if (this.announcedReady || !this.isReadyNow() || this.watch.hung) return;
    this.announcedReady = true;
    this.emit("ready");
  }

  private announceDown(event: "close" | "end"): void {
    this.announcedReady = false;
    this.emit(event);
  }

  private pollUntilReady(): void {
    if (this.poll !== undefined || this.detach.length === 0) return;
    this.poll = setInterval(() => {
      if (!this.isReadyNow()) return;
      clearInterval(this.poll);
      this.poll = undefined;
      this.announceReady();
    }, READY_POLL_MS);
    this.poll.unref?.();
  }

  private listen(event: string, listener: (...args: any[]) => void): void {
    this.client.on(event, listener);
    this.detach.push(() => this.client.off(event, listener));
  }
}
