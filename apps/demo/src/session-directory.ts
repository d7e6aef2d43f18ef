import type { SessionStore } from "@sessionbridge/core";
import { describeDevice } from "./device.js";
import type { ActiveSession } from "./web/views.js";

/**
 * "Active sessions" on top of the core's per-user index. Sessions are tagged with their user by the
 * store itself (`userIdFrom` in instance.ts), whichever framework wrote them; device and IP are the
 * session's metadata, written once at login (`describe`). Pages only ever see handles, never session ids (an id is a credential).
 */
export interface SessionDirectory {
  list(userId: string, currentId: string): Promise<ActiveSession[]>;
  /** Revokes one of the user's sessions by handle; a handle of someone else's session matches nothing. */
  revoke(userId: string, handle: string): Promise<boolean>;
  /** Destroys every session of the user, except `exceptId` when given. */
  revokeAll(userId: string, exceptId?: string): Promise<number>;
  /** Writes a just-created session with the facts shown on the active-sessions page (device, IP). */
  describe(id: string, data: Record<string, unknown>, meta: Record<string, string>): Promise<void>;
}

export function createSessionDirectory(store: SessionStore): SessionDirectory {
  return {
    async list(userId, currentId) {
      const current = store.handleOf(currentId);
      // The per-user index is a set, read in no fixed order: newest sign-in first, the same on every load.
      const sessions = (await store.sessionsOf(userId)).sort((a, b) => b.createdAtMs - a.createdAtMs || (a.handle < b.handle ? -1 : a.handle > b.handle ? 1 : 0));
      return sessions.map((s) => ({
        handle: s.handle,
        current: s.handle === current,
        // Ours ("device"), or the raw user agent when an adapter recorded the request's facts itself.
        device: s.meta["device"] ?? describeDevice(s.meta["userAgent"]),
        ip: s.meta["ip"] ?? "unknown",
        createdAtMs: s.createdAtMs,
        lastSeenMs: s.lastSeenAtMs,
      }));
    },
    revoke: (userId, handle) => store.destroySessionOf(userId, handle),
    revokeAll: (userId, exceptId) => store.destroySessionsOf(userId, exceptId === undefined ? {} : { except: exceptId }),
    // The adapters write data and the user tag but no metadata, so at login the demo writes the new
    // session once itself with its meta; the framework's own save then merges into it and keeps it.
    describe: (id, data, meta) => store.set(id, data, { meta }),
  };
}
