import type { LoadedSession, SessionData, SessionStore } from "./store.js";

/**
 * The few steps every framework adapter (express-session, @fastify/session, koa-session) shares, kept
 * here so the adapters stay translation only.
 */

/**
 * A copy of the loaded data for the framework to mutate. Frameworks copy the session object shallowly,
 * so without a deep copy `req.session.user.name = "x"` would also change `previous.data` and the save
 * would see "no change".
 */
export function detachData(loaded: LoadedSession<object>): SessionData {
  return structuredClone(loaded.data) as SessionData;
}

/** Options of {@link commitSession}. */
export interface CommitOptions {
  /** The session as this request loaded it (null for a session this request created). */
  previous: LoadedSession<object> | null;
  /** Idle timeout for this session in ms; undefined keeps the session's own (or the store's) TTL. */
  ttlMs?: number | undefined;
}

/**
 * Writes what a request did to its session, in as few backend operations as possible:
 * - changed data (or TTL) → one conditional, merging `save` (a session destroyed meanwhile stays destroyed);
 * - unchanged, and the load already reset the TTL → nothing at all;
 * - unchanged but not refreshed (lazy touch not due, or a previous write moved it) → one `touch`.
 * Resolves the session as it now stands, or null when it is gone.
 */
export async function commitSession(store: SessionStore<SessionData>, id: string, data: SessionData, options: CommitOptions): Promise<LoadedSession | null> {
  const { previous, ttlMs } = options;
  const outcome = await store.save(id, data, { previous, ...(ttlMs === undefined ? {} : { ttlMs }) });
  if (outcome.status === "gone") return null;
  if (outcome.status === "written" || outcome.session.refreshed) return outcome.session;
  const alive = await store.touch(id, { ttlMs: ttlMs ?? outcome.session.ttlMs });
  return alive ? { ...outcome.session, refreshed: true } : null;
}

/** Milliseconds left until `expires`, or undefined when there is no expiry. Zero or less means expired. */
export function remainingMs(expires: Date | number | string | null | undefined, now = Date.now()): number | undefined {
  if (expires === null || expires === undefined) return undefined;
  const at = expires instanceof Date ? expires.getTime() : typeof expires === "number" ? expires : Date.parse(expires);
  return Number.isFinite(at) ? at - now : undefined;
}

/** True for the failures that mean "the backend is down or hung" (as opposed to bad input). */
export function isOutage(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "UNAVAILABLE" || code === "TIMEOUT" || code === "CLOSED";
}

/**
 * Marks an outage error `status` / `statusCode` 503, which Express, Fastify and Koa all turn into
 * "503 Service Unavailable"; any other error is left alone (a 500). Returns the same error.
 */
export function withHttpStatus(error: unknown): unknown {
  if (isOutage(error) && error !== null && typeof error === "object") Object.assign(error, { status: 503, statusCode: 503 });
  return error;
}

/**
 * Hands a promise's outcome to a Node-style callback (express-session and @fastify/session stores are
 * callback based). Errors go through {@link withHttpStatus}. The callback runs on its own tick, outside
 * the promise chain, so an exception it throws surfaces like any callback exception instead of becoming
 * an unhandled rejection.
 */
export function toCallback<T>(work: Promise<T>, callback: (error: unknown, value?: T) => void): void {
  work.then(
    (value) => process.nextTick(callback, null, value),
    (error: unknown) => process.nextTick(callback, withHttpStatus(error)),
  );
}
