import session from "express-session";
import { SessionStoreError } from "@sessionbridge/core";
import { budgetOf, checkMetaOption, detachData, HiddenSlot, linkBudget, promiseOf, SessionTracker, toCallback, ttlFromExpiry, withHttpStatus } from "@sessionbridge/core/adapter";
import type { RequestBudget } from "@sessionbridge/core/adapter";
import type { LoadedSession, SessionData, SessionStore } from "@sessionbridge/core";
import { cookieTemplate, CookieSettings, type RequestLike } from "./cookie.js";

export interface ExpressStoreOptions {
  /**
   * What a request gets while the backend is down or hung:
   * - `"error"` (default): the request fails within the store's `timeoutMs` with the `SessionStoreError`
   *   (code UNAVAILABLE or TIMEOUT), marked `status` / `statusCode` 503, so Express's error handling
   *   answers 503 Service Unavailable.
   * - `"continue"`: the store emits express-session's `disconnect` event, and express-session then runs
   *   every request without a session (`req.session` is undefined) until the store emits `connect`. The
   *   one request that discovers the outage still gets the 503 error.
   */
  whenUnavailable?: "error" | "continue";
  /**
   * Facts about the request stored with the session for "active sessions" pages, e.g.
   * `(req) => ({ userAgent: req.get("user-agent") ?? "", ip: req.ip ?? "" })`. Stored whenever the session
   * is written (login, a change); they alone never cause a write. Default: none.
   */
  meta?: (req: ExpressRequest) => Record<string, string> | undefined;
}

type ExpressRequest = Parameters<session.Store["createSession"]>[0];

type Callback<T = void> = (error?: unknown, value?: T) => void;
type ExpressSession = Record<string, unknown> & { cookie?: { expires?: Date | null; originalMaxAge?: number | null } };

const KNOWN = new Set(["whenUnavailable", "meta"]);

/**
 * express-session store over a sessionbridge store. Translation only: TTLs, encoding, deadlines and
 * conditional writes are the core store's work.
 */
export class ExpressStore extends session.Store {
  readonly store: SessionStore<SessionData>;
  private readonly meta: ExpressStoreOptions["meta"];
  /** Which record each express-session Session was loaded from. */
  private readonly sessions: SessionTracker;
  /** What `get` returned (and the request budget it started), until express-session turns it into a Session in `createSession`. */
  private readonly pending = new HiddenSlot<{ loaded: LoadedSession; budget: RequestBudget }>("sessionbridge.pending");
  /** What `get` is handing to express-session right now (see `deliver`). */
  private handedSess: object | undefined;
  private handedLoaded: LoadedSession | undefined;
  private handedBudget: RequestBudget | undefined;
  private probe: NodeJS.Timeout | undefined;
  /** express-session's cookie configuration when `sessionbridge()` mounted this store (learned once). */
  private cookieSettings: CookieSettings | undefined;

  constructor(store: SessionStore<object>, options: ExpressStoreOptions = {}) {
    super();
    if (store === null || typeof store !== "object" || typeof (store as Partial<SessionStore>).load !== "function") {
      throw new SessionStoreError("CONFIG", "createExpressStore(store): store must be a session store from createSessionStore(…)");
    }
    for (const name of Object.keys(options)) {
      if (!KNOWN.has(name)) throw new SessionStoreError("CONFIG", `option "${name}" is not an express store option (known: ${[...KNOWN].join(", ")})`);
    }
    const when = options.whenUnavailable ?? "error";
    if (when !== "error" && when !== "continue") throw new SessionStoreError("CONFIG", 'option "whenUnavailable" must be "error" or "continue"');
    this.store = store as SessionStore<SessionData>; // the adapter handles data as plain JSON objects
    this.sessions = new SessionTracker(this.store);
    this.meta = checkMetaOption(options.meta);
    if (when === "continue") {
      store.on("unavailable", () => this.disconnected());
      store.on("available", () => this.connected());
    }
  }

  override get(sid: string, callback: (error: unknown, sess?: session.SessionData | null) => void): void {
    // express-session names no request here: the read starts a budget that createSession links to it.
    const budget = budgetOf() ?? {};
    this.sessions.load(sid, budget).then(
      (loaded) => process.nextTick(this.deliver, loaded, budget, callback),
      (error: unknown) => process.nextTick(callback, withHttpStatus(error)),
    );
  }

  /**
   * Calls express-session back with what `get` loaded. express-session turns it into the request's
   * Session (`createSession`) synchronously inside this callback, so the load and its budget are handed
   * over in fields for that call; only when nobody called `createSession` during the callback (a caller
   * that keeps the object for later) are they kept on the object itself, in the `pending` slot. (Defining
   * that hidden property and its holder object on every read cost more than the rest of `createSession`.)
   */
  private readonly deliver = (loaded: LoadedSession | null, budget: RequestBudget, callback: (error: unknown, sess?: session.SessionData | null) => void): void => {
    if (loaded === null) {
      callback(null, null);
      return;
    }
    // The detached data itself gets the cookie, not a copy of it: express-session copies every field
    // into its Session anyway (a spread here was a second copy per request), and the store compares a
    // later save with the stored body, never with this object.
    const sess = detachData(loaded) as ExpressSession;
    sess.cookie = cookieOf(loaded);
    this.handedSess = sess;
    this.handedLoaded = loaded;
    this.handedBudget = budget;
    try {
      callback(null, sess as unknown as session.SessionData);
    } finally {
      if (this.handedSess === sess) {
        this.forgetHandOver();
        this.pending.set(sess, { loaded, budget });
      }
    }
  };

  private forgetHandOver(): void {
    this.handedSess = undefined;
    this.handedLoaded = undefined;
    this.handedBudget = undefined;
  }

  /** express-session turns what `get` returned into the request's Session here: remember the loaded record for `set`. */
  override createSession(req: ExpressRequest, sess: Parameters<session.Store["createSession"]>[1]): ReturnType<session.Store["createSession"]> {
    let loaded: LoadedSession | undefined;
    if (this.handedSess === sess) {
      loaded = this.handedLoaded;
      linkBudget(req, this.handedBudget as RequestBudget);
      this.forgetHandOver();
    } else {
      const pending = this.pending.get(sess);
      if (pending) linkBudget(req, pending.budget);
      loaded = pending?.loaded;
    }
    const template = this.cookieSettings ? this.cookieSettings.templateFor(req as unknown as RequestLike) : cookieTemplate(this, req);
    const stored = (sess as ExpressSession).cookie;
    if (template) {
      // The configured cookie attributes (secure, sameSite, domain…) with the session's own expiry; a
      // browser-session cookie (no maxAge configured) stays one.
      (sess as ExpressSession).cookie = template.originalMaxAge == null ? { ...template, expires: null } : { ...template, originalMaxAge: stored?.originalMaxAge ?? null, expires: stored?.expires ?? null };
    }
    const created = super.createSession(req, sess);
    if (loaded) this.sessions.attach(created, loaded);
    return created;
  }

  /**
   * Tells the store the cookie configuration of the express-session middleware it is mounted in (what
   * `sessionbridge()` does), so a loaded session's cookie attributes are not rebuilt through
   * express-session's `store.generate` on every request.
   */
  useCookieSettings(settings: CookieSettings): void {
    this.cookieSettings = settings;
  }

  override set(sid: string, sess: session.SessionData, callback: Callback = noop): void {
    this.write(sid, sess as unknown as ExpressSession, callback);
  }

  /** express-session calls this for an unmodified session: free when `get` just refreshed the TTL. */
  override touch(sid: string, sess: session.SessionData, callback: Callback = noop): void {
    // express-session only touches a session whose data it found unchanged (its own hash). When this
    // request's read already reset the TTL to the cookie's, skip the save/diff entirely: it would find
    // nothing to write (measured: 4–5 % of the app's CPU on a read-mostly load). The callback runs at
    // once: express-session ends the response in one piece when touch answers synchronously, and
    // otherwise sends headers and all but the body's last byte first, then that byte from the callback
    // (two writes to the socket per response, ~8 % of an Express + Memcached read's CPU).
    const loaded = this.sessions.previousOf(sess);
    if (loaded?.refreshed && loaded.id === sid && ttlFromExpiry((sess as unknown as ExpressSession).cookie) === loaded.ttlMs) {
      callback();
      return;
    }
    this.write(sid, sess as unknown as ExpressSession, callback);
  }

  override destroy(sid: string, callback: Callback = noop): void {
    // Named no request either: within saveBeforeResponse() the request's budget is the async context's.
    toCallback(this.sessions.destroy(sid, budgetOf()), callback);
  }

  /** Every live session by id. Reading each one resets its TTL. UNSUPPORTED on backends that cannot list keys. */
  override all(callback: (error: unknown, all?: Record<string, session.SessionData> | null) => void): void {
    const collect = async () => {
      const result: Record<string, session.SessionData> = {};
      for await (const id of this.store.ids()) {
        const loaded = await this.store.load(id);
        if (loaded) result[id] = { ...loaded.data, cookie: cookieOf(loaded) } as unknown as session.SessionData;
      }
      return result;
    };
    toCallback(collect(), callback, false);
  }

  override length(callback: (error: unknown, length?: number) => void): void {
    toCallback(this.store.length(), callback, false);
  }

  override clear(callback: Callback = noop): void {
    toCallback(this.store.clear(), callback, false);
  }

  private write(sid: string, sess: ExpressSession, callback: Callback): void {
    const { cookie, ...data } = sess;
    // express-session's Session carries its request (non-enumerable), so the spread above leaves it out.
    const req = (sess as { req?: ExpressRequest }).req;
    // promiseOf: when the application's `meta` throws, the save fails through the callback.
    toCallback(
      promiseOf(() => this.sessions.commit(sid, sess, data, { expiry: cookie, meta: this.meta && req ? this.meta(req) : undefined, budget: budgetOf(req) })),
      callback,
    );
  }

  private disconnected(): void {
    this.emit("disconnect");
    // express-session stops calling the store while it is disconnected, so check for recovery ourselves.
    if (this.probe) return;
    const every = Math.max(500, this.store.options.timeoutMs);
    this.probe = setInterval(() => {
      this.store.ping().then(
        () => this.connected(),
        (error: { code?: string }) => {
          if (error?.code === "CLOSED") this.stopProbe(); // the application closed the store: nothing to wait for
        },
      );
    }, every);
    this.probe.unref();
  }

  private connected(): void {
    if (!this.probe) return;
    this.stopProbe();
    this.emit("connect");
  }

  private stopProbe(): void {
    clearInterval(this.probe);
    this.probe = undefined;
  }
}

function noop(): void {}

/**
 * express-session's cookie for a loaded record: the session's own idle timeout and expiry, or none for a
 * session whose cookie had none (a browser-session cookie), as express-session's own stores hand it back.
 */
function cookieOf(loaded: LoadedSession): ExpressSession["cookie"] {
  if (loaded.browserSession === true) return { originalMaxAge: null, expires: null };
  return { originalMaxAge: loaded.ttlMs, expires: new Date(loaded.expiresAtMs) };
}

/** An express-session `Store` backed by a sessionbridge store. */
export function createExpressStore(store: SessionStore<object>, options?: ExpressStoreOptions): ExpressStore {
  return new ExpressStore(store, options);
}
