import type { ServerResponse } from "node:http";
import session from "express-session";
import { SessionStoreError, type SessionStore } from "@sessionbridge/core";
import { CookieSettings, type CookieSetting } from "./cookie.js";
import { createExpressStore, type ExpressStore, type ExpressStoreOptions } from "./store.js";

/**
 * Options of `sessionbridge()`: express-session's own options (`secret`, `name`, `cookie`, `rolling`,
 * `resave`, `saveUninitialized`, `proxy`, `genid`, …), with `store` being the sessionbridge store, plus
 * the options of `createExpressStore` (`whenUnavailable`, `meta`).
 */
export interface SessionbridgeOptions extends Omit<session.SessionOptions, "store">, ExpressStoreOptions {
  /**
   * The store from `createSessionStore(…)`, of any session type (`createSessionStore<MySession>()`, where
   * `MySession` may be an `interface`). Required.
   */
  store: SessionStore<object>;
}

/** The express-session middleware `sessionbridge()` returns, with the express-session store it made. */
export type SessionbridgeMiddleware = ReturnType<typeof session> & { readonly store: ExpressStore };

/**
 * express-session with a sessionbridge store, configured in one call. Unlike `session({ store:
 * createExpressStore(store) })`, the store learns the cookie configuration here, once: a loaded session
 * gets its cookie attributes without building a throw-away session (new id, Session, Cookie) on every
 * request. Bad options fail here, naming the option.
 */
export function sessionbridge(options: SessionbridgeOptions): SessionbridgeMiddleware {
  if (options === null || typeof options !== "object") throw new SessionStoreError("CONFIG", "sessionbridge(options): options must be an object with at least store and secret");
  const { store, whenUnavailable, meta, ...sessionOptions } = options;
  if (store === null || typeof store !== "object" || typeof (store as Partial<SessionStore>).load !== "function") {
    throw new SessionStoreError("CONFIG", 'option "store" must be a session store from createSessionStore(…)');
  }
  const secret = sessionOptions.secret as unknown;
  const secretOk = (typeof secret === "string" && secret.length > 0) || (Array.isArray(secret) && secret.length > 0 && secret.every((s) => typeof s === "string" && s.length > 0));
  if (!secretOk) throw new SessionStoreError("CONFIG", 'option "secret" must be a non-empty string (or an array of them, newest first) to sign the session cookie');
  const cookie = sessionOptions.cookie as unknown;
  if (cookie !== undefined && (cookie === null || (typeof cookie !== "object" && typeof cookie !== "function"))) {
    throw new SessionStoreError("CONFIG", 'option "cookie" must be an object of cookie options or a function (req) => cookie options');
  }
  const proxy = sessionOptions.proxy as unknown;
  if (proxy !== undefined && typeof proxy !== "boolean") throw new SessionStoreError("CONFIG", 'option "proxy" must be true, false or left out (then Express\'s "trust proxy" decides)');
  const expressStore = createExpressStore(store, { ...(whenUnavailable === undefined ? {} : { whenUnavailable }), ...(meta === undefined ? {} : { meta }) });
  expressStore.useCookieSettings(new CookieSettings(cookie as CookieSetting | undefined, proxy as boolean | undefined));
  const sessionMiddleware = session({ ...sessionOptions, store: expressStore });
  const middleware: ReturnType<typeof session> = (req, res, next) => {
    const end = res.end;
    sessionMiddleware(req, res, (error?: unknown) => {
      if (res.end !== end) oneWrite(res);
      next(error as Parameters<typeof next>[0]);
    });
  };
  return Object.assign(middleware, { store: expressStore });
}

/**
 * Makes express-session's response leave in one write. When the session must be saved (or touched)
 * before the response completes, express-session sends the headers and all of the body but its last
 * byte at once, and that byte when the store has answered: two writes to the socket (and two packets)
 * per response. Corked from the moment the application ends the response, it leaves in one, when
 * express-session really ends it (Node's `end()` fully uncorks). The client receives the response no
 * later than before: its last byte always waited for the store.
 */
function oneWrite(res: ServerResponse): void {
  const sessionEnd = res.end;
  res.end = function (this: ServerResponse, ...args: unknown[]) {
    if (!this.writableEnded) this.cork();
    return (sessionEnd as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as ServerResponse["end"];
}
