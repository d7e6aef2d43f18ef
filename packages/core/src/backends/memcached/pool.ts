import { performance } from "node:perf_hooks";
import type { CommandObserver, NodeHealth } from "../../backend.js";
import { SessionStoreError } from "../../errors.js";
import type { BackendEmitter } from "../emitter.js";
import { Opcode, send } from "./commands.js";
import { NodeConnection, type ConnectionSettings } from "./connection.js";
import { isBrokenConnection, isNodeFailure, nodeError } from "./errors.js";
import { createHashRing, type HashRing } from "./ketama.js";

/** Most keys remembered per dead node for clean-up when it returns (see `Node.dirty`). */
const MAX_DIRTY_KEYS = 10_000;

export interface Node {
  readonly name: string;
  readonly connection: NodeConnection;
  /** Left out of routing until a probe succeeds. */
  down: boolean;
  probe: NodeJS.Timeout | undefined;
  /**
   * Keys whose home is this node that were written or deleted elsewhere while it was down. When it
   * comes back they are deleted on it first, so a session destroyed (logged out) during the outage
   * does not come back to life from the node's old copy; the copy written on the stand-in node (the
   * value) is deleted too, so it cannot resurface at the next outage either.
   */
  dirty: Map<string, Node>;
  /** More keys changed than `dirty` can hold: some old copies may resurface. Reported once. */
  dirtyOverflow: boolean;
  /** Why it was last left out (no credentials), for `health()`. */
  lastError: string | undefined;
}

export interface PoolSettings {
  nodes: Array<{ host: string; port: number; name: string }>;
  connection: Omit<ConnectionSettings, "host" | "port">;
  retryDeadNodeMs: number;
  events: BackendEmitter;
}

/**
 * The nodes and the routing between them: a key goes to its ketama home node, or, while that node is
 * down, to the next live node round the circle. A node that fails is left out and probed every
 * `retryDeadNodeMs` until it answers, then used again. Requests never queue on a dead node.
 */
export class NodePool {
  readonly nodes: Node[];
  private readonly ring: HashRing;
  private readonly username: string | undefined;
  /** A failure reached the store since we last said "available". */
  private owesAvailable = false;
  private closed = false;
  private storeTimeoutMs = 1000;

  constructor(private readonly settings: PoolSettings) {
    this.nodes = settings.nodes.map(({ host, port, name }) => {
      const connection = new NodeConnection({ ...settings.connection, host, port });
      return { name, connection, down: false, probe: undefined, dirty: new Map<string, Node>(), dirtyOverflow: false, lastError: undefined };
    });
    this.ring = createHashRing(settings.nodes.map((node) => node.name));
    this.username = settings.connection.username;
  }

  setTimeoutMs(timeoutMs: number): void {
    for (const node of this.nodes) node.connection.setTimeoutMs(timeoutMs);
  }

  /** The store's deadline: an answer that took this long came after the store gave up on it (see `route`). */
  setStoreTimeoutMs(timeoutMs: number): void {
    this.storeTimeoutMs = timeoutMs;
  }

  /**
   * Runs `work` on the key's node; when that node fails to answer, leaves it out and runs `work` on the
   * next live node. `changes` marks writes and deletes, which dead home nodes must forget later.
   * `observer` (a traced operation's, see backend.ts) learns the node that was asked last.
   */
  async route<T>(key: string, changes: boolean, work: (node: Node) => Promise<T>, observer?: CommandObserver): Promise<T> {
    const started = Date.now();
    const order = this.ring.candidates(key);
    const home = this.nodes[order[0] as number] as Node;
    let failures: string[] | undefined;
    for (const index of order) {
      const node = this.nodes[index] as Node;
      if (node.down) continue;
      if (changes && node !== home && home.down) this.remember(home, key, node);
      if (observer !== undefined) observer.node = { role: "node", address: node.name };
      try {
        let result: T;
        try {
          result = await work(node);
        } catch (error) {
          // A broken connection (the node restarted, an idle connection was cut): once more on a fresh one.
          if (!isBrokenConnection(error) || this.closed) throw error;
          result = await work(node);
        }
        this.succeeded();
        // The store has already failed this operation: owe it an "available" for the next one that works.
        if (Date.now() - started >= this.storeTimeoutMs) this.owesAvailable = true;
        return result;
      } catch (error) {
        if (!isNodeFailure(error)) throw error instanceof SessionStoreError ? error : nodeError(error, node.name, this.username);
        (failures ??= []).push(nodeError(error, node.name, this.username).message.replace(/^sessionbridge: /, ""));
        this.markDown(node, error);
      }
    }
    this.owesAvailable = true;
    const detail = failures !== undefined ? failures.join("; ") : `every node is down (${this.nodes.map((n) => n.name).join(", ")}), retried every ${this.settings.retryDeadNodeMs} ms`;
    throw new SessionStoreError("UNAVAILABLE", `memcached: no node could serve the request: ${detail}`, { backend: this.label() });
  }

  /**
   * Resolves only when every node answers a NOOP. Each key has one home node and memcached has no
   * replicas, so a node that is down means its share of the users have lost their sessions (they are
   * logged out) even though the other nodes keep serving: a health check must say so. Nodes already
   * left out count as down without being contacted; they return through their probe (which first
   * deletes the keys changed elsewhere meanwhile), not through a ping.
   */
  async ping(): Promise<void> {
    const live = this.nodes.filter((node) => !node.down);
    const results = await Promise.allSettled(live.map((node) => send(node.connection, Opcode.noop, "")));
    const reasons = new Map<string, string>();
    results.forEach((result, i) => {
      const node = live[i] as Node;
      if (result.status === "fulfilled") return;
      if (!isNodeFailure(result.reason)) throw nodeError(result.reason, node.name, this.username); // AUTH: the node answered, we are wrong
      reasons.set(node.name, nodeError(result.reason, node.name, this.username).message.replace(/^sessionbridge: memcached \S+: /, ""));
      this.markDown(node, result.reason);
    });
    const down = this.nodes.filter((node) => node.down);
    if (down.length === 0) {
      this.succeeded();
      return;
    }
    const which = down.map((node) => (reasons.has(node.name) ? `${node.name}: ${reasons.get(node.name)}` : node.name)).join("; ");
    if (down.length === this.nodes.length) {
      this.owesAvailable = true;
      throw new SessionStoreError("UNAVAILABLE", `memcached: no node answered (${which})`, { backend: this.label() });
    }
    throw new SessionStoreError(
      "UNAVAILABLE",
      `memcached: ${down.length} of ${this.nodes.length} nodes ${down.length === 1 ? "is" : "are"} down (${which}) — the sessions they held are lost until they return (those users are logged out); the other nodes still serve, and down nodes are retried every ${this.settings.retryDeadNodeMs} ms`,
      { backend: this.label() },
    );
  }

  /**
   * Every node with the round trip of a NOOP. A node already left out is reported down with the reason
   * it was left out, without being contacted (its probe brings it back); a live node that fails the
   * NOOP is left out as any failing node is.
   */
  async health(): Promise<NodeHealth[]> {
    return Promise.all(
      this.nodes.map(async (node): Promise<NodeHealth> => {
        if (node.down) return { node: node.name, role: "node", reachable: false, ...(node.lastError === undefined ? {} : { lastError: node.lastError }) };
        const started = performance.now();
        try {
          await send(node.connection, Opcode.noop, "");
          return { node: node.name, role: "node", reachable: true, latencyMs: Math.round((performance.now() - started) * 100) / 100 };
        } catch (error) {
          const reason = nodeError(error, node.name, this.username).message.replace(/^sessionbridge: /, "");
          if (isNodeFailure(error)) this.markDown(node, error);
          return { node: node.name, role: "node", reachable: false, lastError: reason };
        }
      }),
    );
  }

  close(): void {
    this.closed = true;
    for (const node of this.nodes) {
      clearTimeout(node.probe);
      node.connection.close();
    }
  }

  label(): string {
    const names = this.nodes.map((node) => node.name);
    return `memcached ${names.length <= 3 ? names.join(",") : `${names.slice(0, 3).join(",")} (+${names.length - 3} more)`}`;
  }

  private succeeded(): void {
    if (!this.owesAvailable) return;
    this.owesAvailable = false;
    this.settings.events.emit("available");
  }

  private remember(home: Node, key: string, standIn: Node): void {
    if (home.dirty.size < MAX_DIRTY_KEYS || home.dirty.has(key)) home.dirty.set(key, standIn);
    else if (!home.dirtyOverflow) {
      home.dirtyOverflow = true;
      this.settings.events.emit("error", new SessionStoreError("BACKEND", `memcached ${home.name}: more than ${MAX_DIRTY_KEYS} sessions changed while it was down; when it returns, some may come back as they were before`, { backend: this.label() }));
    }
  }

  private markDown(node: Node, error: unknown): void {
    if (node.down || this.closed) return;
    node.down = true;
    const reason = nodeError(error, node.name, this.username);
    node.lastError = reason.message.replace(/^sessionbridge: /, "");
    const live = this.nodes.filter((n) => !n.down).length;
    this.settings.events.emit(
      "error",
      new SessionStoreError(reason.code, `memcached ${node.name} is down (${reason.message.replace(/^sessionbridge: memcached \S+: /, "")}); its sessions are lost until it returns and its keys go to the next node${live === 0 ? " — no node is left" : ""}`, { cause: error, backend: this.label() }),
    );
    if (live === 0) {
      this.owesAvailable = true;
      this.settings.events.emit("unavailable", new SessionStoreError("UNAVAILABLE", `memcached: every node is down (${this.nodes.map((n) => n.name).join(", ")})`, { backend: this.label() }));
    }
    this.scheduleProbe(node);
  }

  private scheduleProbe(node: Node): void {
    clearTimeout(node.probe);
    node.probe = setTimeout(() => void this.probe(node), this.settings.retryDeadNodeMs);
    node.probe.unref();
  }

  /** Brings a node back once it answers and has forgotten the keys that changed elsewhere meanwhile. */
  private async probe(node: Node): Promise<void> {
    if (this.closed) return;
    try {
      await send(node.connection, Opcode.noop, "");
      for (const [key, standIn] of [...node.dirty]) {
        await send(node.connection, Opcode.delete, key);
        node.dirty.delete(key);
        if (!standIn.down) await send(standIn.connection, Opcode.delete, key).catch(() => undefined);
      }
    } catch {
      if (!this.closed) this.scheduleProbe(node);
      return;
    }
    if (this.closed) return;
    const wasAllDown = this.nodes.every((n) => n.down);
    node.down = false;
    node.dirtyOverflow = false;
    if (wasAllDown || this.owesAvailable) {
      this.owesAvailable = false;
      this.settings.events.emit("available");
    }
  }
}
