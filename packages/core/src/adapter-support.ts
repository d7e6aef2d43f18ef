import { isSessionStoreError, SessionStoreError } from "./errors.js";
import { isOutage, withinBudget, type RequestBudget } from "./request-budget.js";
import { HiddenSlot } from "./hidden-slot.js";
import { bodyOf, rememberBody } from "./snapshot.js";
import { isBrowserSessionCookie, ttlFromExpiry, type FrameworkExpiry } from "./expiry.js";
import { loadedSession, type LoadedSession, type SaveOptions, type SessionData, type SessionStore } from "./store.js";

export { isBrowserSessionCookie, remainingMs, ttlFromExpiry, type FrameworkExpiry } from "./expiry.js";

/**
 * The few steps every framework adapter (express-session, @fastify/session, koa-session) shares, kept
 * here so the adapters stay translation only.
 */

/**
 * The loaded data for the framework to use and mutate. The store keeps the body each loaded session was
 * read from (snapshot.ts) and compares saves with that, so the framework may change nested objects in
 * place (`req.session.user.name = "x"`) without a deep copy here. Only a session the store has no body
 * for (none of its own making) is deep-copied.
 */
export function detachData(loaded: LoadedSession<object>): SessionData {
  return (bodyOf(loaded) !== undefined ? loaded.data : structuredClone(loaded.data)) as SessionData;
}

/** The data of a {@link leanCopy}: empty, frozen. A save reads the session's stored state from its body. */
const NO_DATA: SessionData = Object.freeze({}) as SessionData;

/**
 * What a later conditional, merging save of `loaded` needs, without the decoded data: its metadata and
 * the body it was read from (snapshot.ts), and an upper bound of the bytes that body takes on the heap
 * (2 per character). For adapters that must hold loads between a framework's read and its save with no
 * request object to hang them on (@fastify/session without the plugin), so what they hold can be bounded
 * in bytes. Undefined when the store kept no body for `loaded` (nothing it read or wrote itself).
 */
export function leanCopy(loaded: LoadedSession<object>): { session: LoadedSession; bytes: number } | undefined {
  const body = bodyOf(loaded);
  if (body === undefined) return undefined;
  const session = loadedSession({ ...(loaded as LoadedSession), data: NO_DATA }, loaded.id, loaded.refreshed, loaded.writtenExpiresAtMs);
  rememberBody(session, body);
  return { session, bytes: 2 * body.length };
}

/** Options of {@link commitSession}. */
export interface CommitOptions {
  /** The session as this request loaded it (null for a session this request created). */
  previous: LoadedSession<object> | null;
  /** Idle timeout for this session in ms; undefined keeps the session's own (or the store's) TTL. */
  ttlMs?: number | undefined;
  /**
   * Request facts for "active sessions" pages (e.g. `{ userAgent, ip }`), stored whenever the session is
   * written (a login, a change); they alone never cause a write. See docs/security.md.
   */
  meta?: Record<string, string> | undefined;
  /** The request's budget (request-budget.ts): the save and a following touch share its one deadline. */
  budget?: RequestBudget | undefined;
  /** The session's cookie ends with the browser session (see `WriteOptions.browserSession`); undefined keeps what it had. */
  browserSession?: boolean | undefined;
}

/**
 * Writes what a request did to its session, in as few backend operations as possible:
 * - changed data (or TTL) → one conditional, merging `save` (a session destroyed meanwhile stays destroyed);
 * - unchanged, and the load already reset the TTL → nothing at all;
 * - unchanged but not refreshed (lazy touch not due, or a previous write moved it) → one `touch`.
 * Resolves the session as it now stands, or null when it is gone.
 */
export function commitSession(store: SessionStore<SessionData>, id: string, data: SessionData, options: CommitOptions): Promise<LoadedSession | null> {
  const { previous, ttlMs, meta, budget, browserSession } = options;
  // Field by field: three conditional spreads made four objects per save.
  const saveOptions: SaveOptions = { previous };
  if (ttlMs !== undefined) saveOptions.ttlMs = ttlMs;
  if (meta !== undefined) saveOptions.meta = meta;
  if (browserSession !== undefined) saveOptions.browserSession = browserSession;
  // A `then` chain, not an async function: one frame less per save (this runs on every request).
  // withinBudget turns a store's throw into a rejection, as an async function would.
  return withinBudget(budget, store, "save", () => store.save(id, data, saveOptions)).then((outcome) => {
    if (outcome.status === "gone") return null;
    if (outcome.status === "written" || outcome.session.refreshed) return outcome.session;
    const { session } = outcome;
    return withinBudget(budget, store, "touch", () => store.touch(id, { ttlMs: ttlMs ?? session.ttlMs })).then((alive) => (alive ? loadedSession(session, session.id, true, session.writtenExpiresAtMs) : null));
  });
}

/**
 * Per-adapter bookkeeping: which record each framework session was loaded from (for conditional, merging
 * saves), and the TTL sessions are read with, passed to `load` so a GETEX sets the right TTL in one
 * command instead of GETEX + PEXPIRE when the framework's maxAge differs from the store's `ttlMs`.
 * Kept on the framework's session object (hidden-slot.ts): nothing to clean up.
 */
export class SessionTracker {
  private readonly loaded = new HiddenSlot<LoadedSession>("sessionbridge.loaded");
  private ttlHintMs: number | undefined;
  /** `{ ttlMs: ttlHintMs }`, made again only when the hint changes (not one object per read). */
  private loadOptions: { ttlMs: number } | undefined;

  constructor(readonly store: SessionStore<SessionData>) {}

  /**
   * Loads the session a client's cookie names. The id comes from the client: one the store refuses
   * (INVALID_ID: too long, control characters, the per-user index's prefix) is "no session", so the
   * framework starts a new one, never an error.
   */
  load(id: string, budget?: RequestBudget): Promise<LoadedSession | null> {
    const options = this.loadOptions;
    // One `then` (no async frame, no separate catch): this runs on every request.
    return withinBudget(budget, this.store, "load", () => this.store.load(id, options)).then((loaded) => {
      if (loaded !== null) this.hint(loaded.ttlMs);
      return loaded;
    }, noSessionForInvalidId);
  }

  private hint(ttlMs: number): void {
    if (ttlMs === this.ttlHintMs) return;
    this.ttlHintMs = ttlMs;
    this.loadOptions = { ttlMs };
  }

  /** Destroys a session within the request's budget. */
  destroy(id: string, budget?: RequestBudget): Promise<void> {
    return withinBudget(budget, this.store, "destroy", () => this.store.destroy(id)).then(() => undefined);
  }

  /** Remembers that the framework's session object `holder` was built from `loaded`. */
  attach(holder: object, loaded: LoadedSession): void {
    this.loaded.set(holder, loaded);
  }

  previousOf(holder: object): LoadedSession | undefined {
    return this.loaded.get(holder);
  }

  /**
   * Writes `data` for the framework session `holder` with {@link commitSession} (or destroys it when its
   * cookie has expired). `previous` defaults to what `holder` was loaded from. A cookie `expiry` without
   * an expiry (a browser-session cookie) is recorded as such, so every adapter rebuilds it that way.
   */
  commit(id: string, holder: object, data: SessionData, options: { expiry?: FrameworkExpiry | null | undefined; previous?: LoadedSession | null; meta?: Record<string, string> | undefined; budget?: RequestBudget | undefined } = {}): Promise<void> {
    const previous = options.previous === undefined ? (this.loaded.get(holder) ?? null) : options.previous;
    const ttlMs = ttlFromExpiry(options.expiry);
    if (ttlMs === "expired") {
      this.loaded.clear(holder);
      return this.destroy(id, options.budget);
    }
    return commitSession(this.store, id, data, { previous, ttlMs, meta: options.meta, budget: options.budget, browserSession: isBrowserSessionCookie(options.expiry) }).then((now) => {
      if (now === null) {
        this.loaded.clear(holder);
        return;
      }
      this.loaded.set(holder, now);
      this.hint(now.ttlMs);
    });
  }
}

export { isOutage };

function noSessionForInvalidId(error: unknown): null {
  if ((error as { code?: unknown } | null)?.code === "INVALID_ID") return null;
  throw error;
}

/** The errors {@link withHttpStatus} made, so one is never wrapped twice. */
const forHttp = new WeakSet<object>();

/**
 * The error to hand an HTTP framework for a store failure: 503 for an outage (UNAVAILABLE, TIMEOUT,
 * CLOSED), 500 for anything else (AUTH, CONFIG, BACKEND…), as `status` / `statusCode`, which Express,
 * Fastify and Koa all answer with. Frameworks put an error's message (Fastify's default handler) or
 * stack (Express in development) into the response body, and the store's messages name the backend
 * (host, port, user, database, the server's own error). So the framework gets a new SessionStoreError
 * with the same `code`, a message that names nothing of the backend, `expose: false`, and the store's
 * error as its `cause`: error handlers, loggers (pino prints causes) and `app.on("error")` still have
 * every detail. Errors that are not SessionStoreErrors (the application's own) pass unchanged.
 */
export function withHttpStatus(error: unknown): unknown {
  if (!isSessionStoreError(error) || forHttp.has(error)) return error;
  const outage = isOutage(error);
  const status = outage ? 503 : 500;
  const message = outage ? "the session store is unavailable; try again in a moment" : `the session store failed (${error.code}); the details are in this error's cause and the server log`;
  const visible = new SessionStoreError(error.code, message, { cause: error });
  Object.assign(visible, { status, statusCode: status, expose: false });
  forHttp.add(visible);
  return visible;
}

/** True for an error {@link withHttpStatus} made: a store operation of the framework's session failed. */
export function isSessionFailure(error: unknown): boolean {
  return typeof error === "object" && error !== null && forHttp.has(error);
}

/**
 * Hands a promise's outcome to a Node-style callback (express-session and @fastify/session stores are
 * callback based). Errors of the operations a request makes go through {@link withHttpStatus}; `forHttp`
 * false keeps the store's own error, for the calls an application makes itself (express-session's
 * `all`, `length`, `clear`). The callback runs on its own tick, outside the promise chain, so an
 * exception it throws surfaces like any callback exception instead of becoming an unhandled rejection.
 */
export function toCallback<T>(work: Promise<T>, callback: (error: unknown, value?: T) => void, forHttp = true): void {
  work.then(
    (value) => process.nextTick(callback, null, value),
    (error: unknown) => process.nextTick(callback, forHttp ? withHttpStatus(error) : error),
  );
}

/** Validates an adapter's `meta` option once, at construction. */
export function checkMetaOption<F>(meta: unknown): F | undefined {
  if (meta !== undefined && typeof meta !== "function") {
    throw new SessionStoreError("CONFIG", 'option "meta" must be a function (request) => ({ userAgent, ip, … }) returning small strings');
  }
  return meta as F | undefined;
}
