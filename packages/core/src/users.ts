import { createHash } from "node:crypto";
import type { Backend } from "./backend.js";
import { isSessionStoreError, SessionStoreError } from "./errors.js";
import type { KeyDeriver } from "./keys.js";
import type { SessionRecord } from "./record.js";

/** One of a user's live sessions, as shown on an "active sessions" page. */
export interface UserSession {
  /**
   * Opaque, stable name of the session: not its id (an id is a credential and must not be shown on a
   * page). Pass it to `destroySessionOf`; compare it with `handleOf(currentId)` to mark "this device".
   */
  handle: string;
  /** When the session was created (epoch ms). */
  createdAtMs: number;
  /**
   * When the session was last written or its expiry last moved (epoch ms): within about a minute of the
   * last request for a session in use (see docs/security.md).
   */
  lastSeenAtMs: number;
  /** When the session expires unless it is used again (epoch ms), at the latest. */
  expiresAtMs: number;
  /** What the application stored with the session (user agent, IP …); empty when nothing. */
  meta: Record<string, string>;
}

/** What the index needs from the store: its backend, keys, deadline and record reader. */
export interface IndexHost {
  readonly backend: Backend;
  readonly keys: KeyDeriver;
  run<R>(what: string, operation: () => Promise<R>): Promise<R>;
  /** Reads and decodes a record without refreshing it; null when missing or undecodable. */
  readRecord(key: string): Promise<SessionRecord | null>;
  /** Deletes session keys, one command per key (they may live on different Cluster slots). */
  deleteKeys(keys: readonly string[]): Promise<number>;
  /** Reports a corrupt index (the store's 'corrupt' event). */
  corrupt(error: SessionStoreError): void;
}

/** Longest a listed index entry may outlive its session, in ms (also bounds "last seen" accuracy). */
const MAX_SLACK_MS = 120_000;

/**
 * The per-user index: for every user, a set of `{ member, expiresAtMs }` where member is the session's
 * key without the prefix (an HMAC when keys are hashed; never a raw id unless keys are plain anyway).
 *
 * Invariant that makes "log out everywhere" complete: an entry's expiry is never earlier than its
 * session's. A session's TTL slides on reads without a write, so the score carries slack and the store
 * moves it forward (`due`) before the session can outlive it. Entries of sessions now owned by someone
 * else, or whose key holds no session, are dropped whenever the index is listed; an entry whose record is
 * missing is skipped and lapses with its score (it may belong to a login that has not written yet).
 */
export class UserIndex {
  constructor(private readonly host: IndexHost) {}

  get supported(): boolean {
    const backend = this.host.backend;
    return backend.capabilities.userIndex && typeof backend.indexAdd === "function" && typeof backend.indexList === "function" && typeof backend.indexRemove === "function";
  }

  /** Slack added to an entry's expiry: half of it is the headroom before the store must refresh. */
  static slackMs(ttlMs: number): number {
    return Math.max(1, Math.min(ttlMs, MAX_SLACK_MS));
  }

  /** The score to record for a session that will expire at `expiresAtMs` (with slack). */
  static scoreFor(expiresAtMs: number, ttlMs: number): number {
    return expiresAtMs + UserIndex.slackMs(ttlMs);
  }

  /** True when the index entry must move before the session's expiry can pass it. */
  static due(record: Pick<SessionRecord, "userId" | "indexedUntilMs" | "ttlMs">, expiresAtMs: number): boolean {
    if (record.userId === undefined) return false;
    return record.indexedUntilMs === undefined || expiresAtMs + UserIndex.slackMs(record.ttlMs) / 2 > record.indexedUntilMs;
  }

  /** Handle shown for a session key (see UserSession.handle). */
  handleOfKey(key: string): string {
    return createHash("sha256").update(`handle\u0000${this.host.keys.idOf(key)}`, "utf8").digest("base64url").slice(0, 22);
  }

  async add(userId: string, key: string, score: number): Promise<void> {
    const backend = this.requireBackend();
    const indexKey = this.host.keys.userIndexKeys(userId)[0] as string;
    const member = this.host.keys.idOf(key);
    const keyTtlMs = Math.max(1, score - Date.now());
    const add = () => this.host.run("indexAdd", () => backend.indexAdd(indexKey, [{ member, expiresAtMs: score }], keyTtlMs));
    await this.repairing(indexKey, add, add);
  }

  /** Removes a session from a user's index under every secret (the session may have moved). */
  async remove(userId: string, keys: readonly string[]): Promise<void> {
    const backend = this.requireBackend();
    const members = keys.map((key) => this.host.keys.idOf(key));
    await Promise.all(
      this.host.keys.userIndexKeys(userId).map((indexKey) =>
        this.repairing(
          indexKey,
          () => this.host.run("indexRemove", () => backend.indexRemove(indexKey, members)),
          async () => undefined,
        ),
      ),
    );
  }

  /** The user's live sessions, verified against the records; stale entries are removed on the way. */
  async live(userId: string): Promise<Array<{ key: string; record: SessionRecord }>> {
    const backend = this.requireBackend();
    const now = Date.now();
    const found = new Map<string, SessionRecord>();
    for (const indexKey of this.host.keys.userIndexKeys(userId)) {
      const entries = await this.repairing(indexKey, () => this.host.run("indexList", () => backend.indexList(indexKey, now)), async () => []);
      const stale: string[] = [];
      await Promise.all(
        entries.map(async ({ member }) => {
          const key = this.host.keys.prefix + member;
          // A session key holding another type of value reads as no session: its entry is stale.
          const record = await this.host.readRecord(key).catch((error: unknown) => {
            if (isSessionStoreError(error) && error.code === "CORRUPT") return "corrupt" as const;
            throw error;
          });
          // No record yet is not proof of a stale entry: a login adds its entry before it writes the
          // record, so another login's listing may run in between. Such an entry is only skipped; it
          // lapses with its score (at most MAX_SLACK_MS past its session) or is removed by a destroy.
          if (record === null) return;
          if (record === "corrupt" || record.userId !== userId) stale.push(member);
          else found.set(key, record);
        }),
      );
      if (stale.length > 0) await this.host.run("indexRemove", () => backend.indexRemove(indexKey, stale));
    }
    return [...found].map(([key, record]) => ({ key, record }));
  }

  async sessionsOf(userId: string): Promise<UserSession[]> {
    const sessions = (await this.live(userId)).map(({ key, record }) => ({
      handle: this.handleOfKey(key),
      createdAtMs: record.createdAtMs,
      lastSeenAtMs: Math.max(record.createdAtMs, record.expiresAtMs - record.ttlMs),
      expiresAtMs: record.indexedUntilMs ?? record.expiresAtMs,
      meta: { ...record.meta },
    }));
    return sessions.sort((a, b) => b.lastSeenAtMs - a.lastSeenAtMs);
  }

  /** Destroys the user's sessions whose keys are not in `keep`; resolves how many it destroyed. */
  async destroyAll(userId: string, keep: ReadonlySet<string>): Promise<number> {
    const doomed = (await this.live(userId)).map(({ key }) => key).filter((key) => !keep.has(key));
    if (doomed.length === 0) return 0;
    const count = await this.host.deleteKeys(doomed);
    await this.remove(userId, doomed);
    return count;
  }

  async destroyByHandle(userId: string, handle: string): Promise<boolean> {
    const target = (await this.live(userId)).find(({ key }) => this.handleOfKey(key) === handle);
    if (target === undefined) return false;
    const count = await this.host.deleteKeys([target.key]);
    await this.remove(userId, [target.key]);
    return count > 0;
  }

  /** Keeps the newest `max` sessions of the user (always including `keepKey`) and destroys the rest. */
  async enforceLimit(userId: string, keepKey: string, max: number): Promise<number> {
    const sessions = await this.live(userId);
    if (sessions.length <= max) return 0;
    const others = sessions.filter(({ key }) => key !== keepKey).sort((a, b) => b.record.createdAtMs - a.record.createdAtMs);
    const doomed = others.slice(max - 1).map(({ key }) => key);
    const count = await this.host.deleteKeys(doomed);
    await this.remove(userId, doomed);
    return count;
  }

  /**
   * Runs a command on a user's index key. A foreign value there (Redis WRONGTYPE, reported as CORRUPT) is
   * treated like a corrupt record: reported on 'corrupt', deleted (the next login starts the index anew)
   * and the command answered by `instead` (an add retries on the now empty key, a list is empty). So a
   * broken index never blocks a login or "log out everywhere"; the sessions it had lost track of end by TTL.
   */
  private async repairing<R>(indexKey: string, command: () => Promise<R>, instead: () => Promise<R>): Promise<R> {
    try {
      return await command();
    } catch (error) {
      if (!isSessionStoreError(error) || error.code !== "CORRUPT") throw error;
      this.host.corrupt(error);
      await this.host.run("delete", () => this.host.backend.delete([indexKey]));
      return instead();
    }
  }

  private requireBackend(): Required<Pick<Backend, "indexAdd" | "indexList" | "indexRemove">> {
    const backend = this.host.backend;
    if (!this.supported || !backend.indexAdd || !backend.indexList || !backend.indexRemove) {
      throw new SessionStoreError("UNSUPPORTED", `${backend.label} has no per-user index, so sessions cannot be listed or revoked per user; destroy them by id, or use Redis or the memory backend`, { backend: backend.label });
    }
    return { indexAdd: backend.indexAdd.bind(backend), indexList: backend.indexList.bind(backend), indexRemove: backend.indexRemove.bind(backend) };
  }
}
