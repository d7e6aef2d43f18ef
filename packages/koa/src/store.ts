import { SessionStoreError } from "@sessionbridge/core";
import type { LoadedSession, SessionData, SessionStore } from "@sessionbridge/core";
import { budgetOf, checkMetaOption, detachData, HiddenSlot, promiseOf, SessionTracker, withHttpStatus } from "@sessionbridge/core/adapter";
import type { FrameworkExpiry } from "@sessionbridge/core/adapter";

/** What koa-session hands the store and gets back: the session's fields plus its own bookkeeping. */
export interface KoaSessionData {
  /** Expiry of the session (epoch ms); absent for `maxAge: "session"`. */
  _expire?: number;
  /** The session's maxAge in ms; koa-session restores `ctx.sessionOptions.maxAge` from it. */
  _maxAge?: number;
  /** Present for `maxAge: "session"` (a cookie that ends with the browser session). */
  _session?: boolean;
  [field: string]: unknown;
}

export interface KoaStoreOptions {
  /**
   * Facts about the request stored with the session for "active sessions" pages, e.g.
   * `(ctx) => ({ userAgent: ctx.get("user-agent"), ip: ctx.ip })`. Stored whenever the session is written
   * (login, a change); they alone never cause a write. Default: none.
   */
  // `any`: the application's own Koa context type, which this package does not depend on.
  meta?: (ctx: any) => Record<string, string> | undefined;
}

interface StoreContext {
  /** koa-session always passes the request's context; it links a save to the record its request loaded. */
  ctx?: object;
  rolling?: boolean;
  changed?: boolean;
}

/**
 * koa-session external store over a sessionbridge store. koa-session's own fields (`_expire`,
 * `_maxAge`, `_session`) are not stored: they are rebuilt from the canonical record, so a session
 * written by Express or Fastify reads the same here.
 */
export class KoaStore {
  readonly store: SessionStore<SessionData>;
  private readonly sessions: SessionTracker;
  /**
   * Requests whose session has `maxAge: "session"`. koa-session clears that option on its first save, so
   * a second save in the same request (after `regenerate()`) arrives as a one-day session: remember.
   */
  private readonly browserSessions = new HiddenSlot<true>("sessionbridge.browserSession");

  private readonly meta: KoaStoreOptions["meta"];

  constructor(store: SessionStore<object>, options: KoaStoreOptions = {}) {
    for (const name of Object.keys(options ?? {})) {
      if (name !== "meta") throw new SessionStoreError("CONFIG", `option "${name}" is not a koa store option (known: meta)`);
    }
    this.meta = checkMetaOption(options?.meta);
    if (store === null || typeof store !== "object" || typeof (store as Partial<SessionStore>).load !== "function") {
      throw new SessionStoreError("CONFIG", "createKoaStore(store): store must be a session store from createSessionStore(…)");
    }
    this.store = store as SessionStore<SessionData>; // the adapter handles data as plain JSON objects
    this.sessions = new SessionTracker(this.store);
  }

  get(key: string, maxAge: number | "session" | undefined, { ctx = {} }: StoreContext = {}): Promise<KoaSessionData | null> {
    // koa-session hands every operation the request's ctx: they share one deadline (budgetOf).
    return this.sessions.load(key, budgetOf(ctx)).then((loaded) => (loaded === null ? null : this.forKoa(loaded, maxAge, ctx)), fail);
  }

  /** What koa-session gets for a loaded session: its data and koa-session's own fields. */
  private forKoa(loaded: LoadedSession, maxAge: number | "session" | undefined, ctx: object): KoaSessionData {
    this.sessions.attach(ctx, loaded);
    // A session saved with a browser-session cookie stays one, whatever maxAge this app configures (as
    // with koa-session's own stores, which keep `_session`).
    const browserSession = maxAge === "session" || loaded.browserSession === true;
    if (browserSession) this.browserSessions.set(ctx, true);
    // `_expire` is when the cookie koa-session last sent runs out: the expiry of the last write, not the
    // one this read just slid to (else `renew` would never fire). Never (nearly) past: koa-session would
    // drop a session that is alive on the server (a rolling cookie was re-sent without a rewrite). The
    // margin stays under half the maxAge, so such a session is renewed.
    const margin = Math.min(loaded.ttlMs / 4, 60_000);
    const cookieExpiry = Math.max(loaded.writtenExpiresAtMs ?? loaded.expiresAtMs, Date.now() + margin);
    // A copy (koa-session's fields must not land in the loaded data, whose "_" fields `set` carries
    // over), with koa-session's fields set on it rather than spread from a second object.
    const sess: KoaSessionData = { ...detachData(loaded) };
    if (browserSession) sess._session = true;
    else {
      sess._expire = cookieExpiry;
      sess._maxAge = loaded.ttlMs;
    }
    return sess;
  }

  /** With `rolling` or `renew` and nothing changed, this costs nothing: the read already reset the TTL. */
  set(key: string, sess: KoaSessionData, _storeMaxAge: number | "session" | undefined, { ctx = {} }: StoreContext = {}): Promise<void> {
    // A `then` chain, not an async function (one promise and frame less per save); promiseOf turns a
    // throw (the application's `meta`) into a rejection, as an async function would.
    return promiseOf(() => this.commit(key, sess, ctx)).then(undefined, fail);
  }

  private commit(key: string, sess: KoaSessionData, ctx: object): Promise<void> {
    const { _expire, _maxAge, _session, ...fields } = sess;
    const loaded = this.sessions.previousOf(ctx);
    // A regenerated session has a new key: it is new, not an update of the one this request loaded.
    const previous = loaded !== undefined && loaded.id === key ? loaded : null;
    const data = withPrivateFields(previous, fields);
    if (_session) this.browserSessions.set(ctx, true);
    const expiry: FrameworkExpiry = this.browserSessions.get(ctx) === true ? {} : { expires: _expire, originalMaxAge: _maxAge };
    const meta = this.meta ? this.meta(ctx) : undefined;
    return this.sessions.commit(key, ctx, data, { expiry, previous, meta, budget: budgetOf(ctx) });
  }

  async destroy(key: string, { ctx }: StoreContext = {}): Promise<void> {
    await this.sessions.destroy(key, ctx === undefined ? undefined : budgetOf(ctx)).catch(fail);
  }
}

/**
 * koa-session never hands back fields starting with "_" (its toJSON skips them), so fields of that kind
 * written by Express or Fastify are carried over from the loaded record instead of being deleted: `fields`
 * (what koa-session handed `set`) with them.
 */
function withPrivateFields(previous: LoadedSession | null, fields: SessionData): SessionData {
  const kept: SessionData = {};
  let any = false;
  if (previous) {
    // for…in, not Object.keys: no array of the field names on every save.
    const data = previous.data as SessionData;
    for (const field in data) {
      if (field.charCodeAt(0) === 95 /* "_" */ && Object.hasOwn(data, field)) {
        kept[field] = data[field];
        any = true;
      }
    }
  }
  // Usually there are none: `fields` (a fresh object from `set`'s destructuring) is the data as it is.
  return any ? { ...kept, ...fields } : fields;
}

function fail(error: unknown): never {
  throw withHttpStatus(error);
}

/** A koa-session external store backed by a sessionbridge store. */
export function createKoaStore(store: SessionStore<object>, options?: KoaStoreOptions): KoaStore {
  return new KoaStore(store, options);
}
