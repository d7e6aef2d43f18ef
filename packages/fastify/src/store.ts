import { EventEmitter } from "node:events";
import type { FastifyRequest } from "fastify";
// Named type imports, not the default import's namespace: a consumer's tsc with moduleResolution bundler
// cannot see that namespace through our d.ts (TS2503).
import type { FastifySessionObject, SessionStore as FastifySessionStore } from "@fastify/session";
import { SessionStoreError } from "@sessionbridge/core";
import { budgetOf, checkMetaOption, detachData, linkBudget, promiseOf, SessionTracker, toCallback } from "@sessionbridge/core/adapter";
import type { RequestBudget } from "@sessionbridge/core/adapter";
import type { LoadedSession, SessionData, SessionStore } from "@sessionbridge/core";
import { RecentLoads } from "./recent-loads.js";

type Callback<T = void> = (error?: unknown, value?: T) => void;
interface FastifySessionLike {
  cookie?: { originalMaxAge?: number | null; expires?: Date | null };
  [field: string]: unknown;
}
interface RequestLike {
  session?: { sessionId?: unknown } | null;
}

export interface FastifyStoreOptions {
  /**
   * Every loaded session takes its cookie's expiry from @fastify/session's `cookie` options instead of
   * its own TTL. Not needed for browser-session cookies (no `maxAge`) any more: the record says when a
   * session's cookie had no expiry, and such a session is read back without one. The plugin sets it
   * when its `cookie` has no `maxAge`. Default false.
   */
  browserSessionCookie?: boolean;
  /**
   * Facts about the request stored with the session for "active sessions" pages, e.g.
   * `(request) => ({ userAgent: request.headers["user-agent"] ?? "", ip: request.ip })`. Stored whenever
   * the session is written (login, a change); they alone never cause a write. Default: none.
   */
  meta?: (request: FastifyRequest) => Record<string, string> | undefined;
}

const KNOWN = ["browserSessionCookie", "meta"];

/**
 * @fastify/session store over a sessionbridge store (the callback contract: get / set / destroy).
 *
 * A conditional, merging save needs the record the request loaded. @fastify/session hands `get` no
 * request and builds its Session from a copy of what `get` returns, so the two are linked like this:
 * the sessionbridge plugin names the request right before @fastify/session's hook runs (`expect`), and
 * once @fastify/session has built `request.session` the loaded record is remembered against that Session
 * object. Used without the plugin (or for `session.reload()`), the latest load of each session id is
 * remembered instead (recent-loads.ts: versions and stored bodies, bounded in bytes): exact unless two
 * requests of one session are in flight in one process and the session changed between their reads.
 */
export class FastifyStore extends EventEmitter implements FastifySessionStore {
  readonly store: SessionStore<SessionData>;
  private readonly sessions: SessionTracker;
  /** Latest loads by id, for saves no request links to a load (recent-loads.ts). */
  readonly recent = new RecentLoads();
  private expected: RequestLike | undefined;
  /** The destroy whose callback is running right now, with its budget (see `destroy`). */
  private destroying: { sessionId: string; budget: RequestBudget } | undefined;
  private readonly browserSessionCookie: boolean;
  private readonly meta: FastifyStoreOptions["meta"];

  constructor(store: SessionStore<object>, options: FastifyStoreOptions = {}) {
    super();
    for (const name of Object.keys(options)) {
      if (!KNOWN.includes(name)) throw new SessionStoreError("CONFIG", `option "${name}" is not a fastify store option (known: ${KNOWN.join(", ")})`);
    }
    this.meta = checkMetaOption(options.meta);
    if (options.browserSessionCookie !== undefined && typeof options.browserSessionCookie !== "boolean") {
      throw new SessionStoreError("CONFIG", 'option "browserSessionCookie" must be true or false');
    }
    this.browserSessionCookie = options.browserSessionCookie ?? false;
    if (store === null || typeof store !== "object" || typeof (store as Partial<SessionStore>).load !== "function") {
      throw new SessionStoreError("CONFIG", "createFastifyStore(store): store must be a session store from createSessionStore(…)");
    }
    this.store = store as SessionStore<SessionData>; // the adapter handles data as plain JSON objects
    this.sessions = new SessionTracker(this.store);
  }

  /** Called by the plugin's onRequest hook, synchronously before @fastify/session's own hook. */
  expect(request: RequestLike | undefined): void {
    this.expected = request;
  }

  get(sessionId: string, callback: Parameters<FastifySessionStore["get"]>[1]): void {
    const request = this.expected;
    this.expected = undefined;
    const read = this.sessions.load(sessionId, budgetOf(request)).then((loaded) => {
      if (loaded !== null && request === undefined) this.recent.remember(sessionId, loaded);
      return loaded;
    });
    toCallback(read, (error, loaded) => {
      if (error || !loaded) return callback(error, null);
      // The session's own idle timeout and expiry; the other cookie attributes come from @fastify/session's
      // options. A session whose cookie had no expiry gets none: @fastify/session rebuilds its cookie from
      // the configured options, as from its own stores, where such a session holds no expiry either.
      const cookie = this.browserSessionCookie || loaded.browserSession === true ? {} : { originalMaxAge: loaded.ttlMs, expires: new Date(loaded.expiresAtMs) };
      // The detached data itself gets the cookie, not a copy of it: @fastify/session copies every field
      // into its Session anyway, and the store compares a later save with the stored body, never with this.
      const sess = detachData(loaded) as FastifySessionLike;
      sess.cookie = cookie;
      callback(null, sess as unknown as FastifySessionObject);
      // @fastify/session built request.session synchronously inside the callback.
      const built = request?.session as { sessionId?: unknown } | undefined;
      if (built && typeof built === "object" && built.sessionId === sessionId) this.sessions.attach(built, loaded);
    });
  }

  set(sessionId: string, sessionObject: object, callback: Callback = noop): void {
    const session = sessionObject as FastifySessionLike;
    const data: SessionData = {};
    for (const field of Object.keys(session)) if (field !== "cookie") data[field] = session[field];
    const previous = this.sessions.previousOf(session) ?? this.recent.get(sessionId) ?? null;
    const request = requestOf(session) as RequestLike | undefined;
    // regenerate(): @fastify/session destroys the old id and, inside that destroy's callback, saves the
    // new session while request.session is still the old one. The two share the destroy's budget.
    const destroying = this.destroying;
    if (request && destroying && request.session?.sessionId === destroying.sessionId) linkBudget(request, destroying.budget);
    // promiseOf: when the application's `meta` throws, the save fails through the callback.
    const work = promiseOf(() => {
      const meta = this.meta && request ? this.meta(request as FastifyRequest) : undefined;
      // No cookie at all (a session handed to `set` by hand) has no expiry either: a browser-session cookie.
      return this.sessions.commit(sessionId, session, data, { expiry: session.cookie ?? {}, previous, meta, budget: budgetOf(request) });
    });
    toCallback(work, callback);
  }

  destroy(sessionId: string, callback: Callback = noop): void {
    // `recent` keeps its entry: a request still in flight must save against it and find the session gone.
    // @fastify/session names no request here, so the destroy starts its own budget, which a save made
    // from its callback (regenerate) joins. A destroy after the request's read (logout) is not linked to
    // that read: see the README.
    const budget: RequestBudget = {};
    toCallback(this.sessions.destroy(sessionId, budget), (error) => {
      this.destroying = { sessionId, budget };
      try {
        callback(error);
      } finally {
        this.destroying = undefined;
      }
    });
  }
}

function noop(): void {}

/** @fastify/session keeps the session's request under a private symbol described "request" (found once). */
let requestKey: symbol | undefined;
function requestOf(session: object): object | undefined {
  if (requestKey === undefined || !Object.hasOwn(session, requestKey)) {
    requestKey = Object.getOwnPropertySymbols(session).find((symbol) => symbol.description === "request");
    if (requestKey === undefined) return undefined;
  }
  return (session as Record<symbol, object | undefined>)[requestKey] ?? undefined;
}

/** A @fastify/session store backed by a sessionbridge store. Prefer the plugin, which also links requests. */
export function createFastifyStore(store: SessionStore<object>, options?: FastifyStoreOptions): FastifyStore {
  return new FastifyStore(store, options);
}
