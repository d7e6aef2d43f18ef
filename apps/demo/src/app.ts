import { isSessionStoreError } from "@sessionbridge/core";
import type { Catalogue } from "./catalogue/catalogue.js";
import { editProduct, showCatalogue, type CatalogueReply } from "./catalogue/routes.js";
import { csrfMatches, newCsrfToken } from "./csrf.js";
import { describeDevice } from "./device.js";
import type { InstanceInfo } from "./instance-info.js";
import type { SessionDirectory } from "./session-directory.js";
import type { PublicUser, UserRepository } from "./users.js";
import { STYLESHEET_HASH } from "./web/style.js";
import { errorPage, homePage, logInPage, profilePage, sessionsPage, signUpPage, type PageContext } from "./web/views.js";

/**
 * The whole demo application, framework-neutral. Each framework file only translates its request,
 * its session object and its reply to the three small shapes below and calls `handle`.
 */

/** What the demo keeps in a session. */
export interface DemoSessionData {
  /** Synchronizer token for CSRF protection. */
  csrf?: string;
  visits?: number;
  user?: PublicUser;
}

/** The framework's session, seen through the few operations the demo needs. */
export interface SessionPort {
  /** The current session id (changes after `regenerate`). */
  id(): string;
  get<K extends keyof DemoSessionData>(key: K): DemoSessionData[K];
  set<K extends keyof DemoSessionData>(key: K, value: DemoSessionData[K]): void;
  /** A fresh, empty session under a new id; the old one is destroyed (session fixation defence). */
  regenerate(): Promise<void>;
  destroy(): Promise<void>;
}

export interface DemoRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  query: URLSearchParams;
  /** Parsed application/x-www-form-urlencoded body (POST), else empty. */
  form: Record<string, unknown>;
  /** The client's address, as the balancer reported it in X-Forwarded-For. */
  ip: string;
  userAgent: string | undefined;
  /** The Cookie request header, if any. */
  cookies: string | undefined;
}

export interface DemoResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface DemoApp {
  instance: InstanceInfo;
  users: UserRepository;
  sessions: SessionDirectory;
  /** Products from the shared database, read through the cache (catalogue pages). */
  catalogue: Catalogue;
}

/** Headers on every response: no caching of personal pages, a strict CSP, no framing. */
const BASE_HEADERS: Record<string, string> = {
  "cache-control": "no-store",
  "content-security-policy": `default-src 'none'; style-src ${STYLESHEET_HASH}; img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  "referrer-policy": "same-origin",
};

/** Fixed messages chosen by a query parameter: nothing from the URL is ever reflected into a page. */
const NOTICES: Record<string, string> = {
  "logged-out": "You are logged out.",
  everywhere: "You were logged out on every device.",
  welcome: "Welcome! Your account is ready and you are signed in.",
  saved: "Saved. Every instance now shows the new name.",
  revoked: "That session was revoked.",
  others: "Every other session was logged out.",
  expired: "Your session expired (or was ended from another device). Log in again to continue.",
};

/**
 * A "you were signed in here" marker, apart from the session: the session cookie and the session itself
 * end together after an idle timeout, so without the marker an expired visitor looks like a new one.
 * It holds nothing but "1"; set at login, cleared at logout and once the expiry has been announced.
 */
const SIGNED_IN_MARK = "sb.in";
const MARK_ON = `${SIGNED_IN_MARK}=1; Path=/; Max-Age=${400 * 86_400}; HttpOnly; SameSite=Lax`;
const MARK_OFF = `${SIGNED_IN_MARK}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax`;

function hasSignedInMark(cookies: string | undefined): boolean {
  return cookies !== undefined && cookies.split(";").some((pair) => pair.trim() === `${SIGNED_IN_MARK}=1`);
}

function page(app: DemoApp, status: number, body: string): DemoResponse {
  return { status, headers: { ...BASE_HEADERS, "content-type": "text/html; charset=utf-8", "x-served-by": app.instance.name }, body };
}

function redirect(app: DemoApp, location: string): DemoResponse {
  // 303: the browser follows a POST with a GET, so a reload never re-submits a form.
  return { status: 303, headers: { ...BASE_HEADERS, location, "x-served-by": app.instance.name }, body: "" };
}

function field(form: Record<string, unknown>, name: string): string {
  const value = form[name];
  return typeof value === "string" ? value : "";
}

export async function handle(app: DemoApp, req: DemoRequest, session: SessionPort): Promise<DemoResponse> {
  const expired = session.get("user") === undefined && hasSignedInMark(req.cookies);
  let mark: string | undefined = expired ? MARK_OFF : undefined;
  const out = await route(app, req, session, expired, (on) => (mark = on ? MARK_ON : MARK_OFF));
  return mark === undefined ? out : { ...out, headers: { ...out.headers, "set-cookie": mark } };
}

async function route(app: DemoApp, req: DemoRequest, session: SessionPort, expired: boolean, signedIn: (on: boolean) => void): Promise<DemoResponse> {
  if (session.get("csrf") === undefined) session.set("csrf", newCsrfToken());
  const user = session.get("user");
  const notice = expired ? NOTICES["expired"] : NOTICES[req.query.get("m") ?? ""];
  const context = (): PageContext => ({ instance: app.instance, user: session.get("user"), csrf: session.get("csrf") ?? "", visits: session.get("visits") ?? 0 });

  if (req.method === "GET" || req.method === "HEAD") {
    session.set("visits", (session.get("visits") ?? 0) + 1);
    switch (req.path) {
      case "/":
        return page(app, 200, homePage(context(), notice));
      case "/signup":
        return user ? redirect(app, "/") : page(app, 200, signUpPage(context()));
      case "/login":
        return user ? redirect(app, "/") : page(app, 200, logInPage(context(), undefined, "", notice));
      case "/profile":
        return user ? page(app, 200, profilePage(context(), user, { notice })) : redirect(app, "/login");
      case "/sessions":
        return user ? page(app, 200, sessionsPage(context(), await app.sessions.list(user.id, session.id()), notice)) : redirect(app, "/login");
      default: {
        const catalogue = await catalogueReply(app, () => showCatalogue(app.catalogue, req.path, req.query, context()));
        return catalogue ?? page(app, 404, errorPage(context(), 404, "Not found", "There is no page at this address."));
      }
    }
  }

  if (req.method !== "POST") return page(app, 405, errorPage(context(), 405, "Method not allowed", "Use the forms on the pages."));
  if (!csrfMatches(session.get("csrf"), req.form["_csrf"])) {
    // Also what a user sees after their session expired or was revoked while a form was open.
    return page(app, 403, errorPage(context(), 403, "This form has expired", "For your safety the form was not submitted. Go back, reload the page and try again."));
  }

  switch (req.path) {
    case "/signup": {
      const username = field(req.form, "username");
      const displayName = field(req.form, "displayName");
      const result = await app.users.signUp(username, field(req.form, "password"), displayName);
      if (!result.ok) return page(app, 400, signUpPage(context(), result.problem, { username, displayName }));
      await startSession(app, session, req, result.user);
      signedIn(true);
      return redirect(app, "/?m=welcome");
    }
    case "/login": {
      const username = field(req.form, "username");
      const found = await app.users.logIn(username, field(req.form, "password"));
      if (!found) return page(app, 401, logInPage(context(), "Wrong username or password.", username));
      await startSession(app, session, req, found);
      signedIn(true);
      return redirect(app, "/");
    }
    case "/logout":
      await session.destroy();
      signedIn(false);
      return redirect(app, "/login?m=logged-out");
  }
  // Every other form needs a signed-in user, catalogue edits included (anyone may read the catalogue).
  if (!user) return redirect(app, "/login");
  const edited = await catalogueReply(app, () => editProduct(app.catalogue, req.path, req.form, context()));
  if (edited !== undefined) return edited;

  switch (req.path) {
    case "/profile": {
      const displayName = field(req.form, "displayName");
      const problem = await app.users.rename(user.username, displayName);
      if (problem !== null) return page(app, 400, profilePage(context(), { ...user, displayName }, { problem }));
      session.set("user", { ...user, displayName: displayName.trim() });
      return redirect(app, "/profile?m=saved");
    }
    case "/sessions/revoke": {
      await app.sessions.revoke(user.id, field(req.form, "handle"));
      return redirect(app, "/sessions?m=revoked");
    }
    case "/sessions/logout-others":
      await app.sessions.revokeAll(user.id, session.id());
      return redirect(app, "/sessions?m=others");
    case "/sessions/logout-all":
      await app.sessions.revokeAll(user.id);
      await session.destroy();
      signedIn(false);
      return redirect(app, "/login?m=everywhere");
    default:
      return page(app, 404, errorPage(context(), 404, "Not found", "There is no form at this address."));
  }
}

/** A catalogue reply as a response. A failing database is a 503 of its own, its details only in the instance's log. */
async function catalogueReply(app: DemoApp, run: () => Promise<CatalogueReply | undefined>): Promise<DemoResponse | undefined> {
  let reply: CatalogueReply | undefined;
  try {
    reply = await run();
  } catch (error) {
    console.error(`[${app.instance.name}] catalogue: ${error instanceof Error ? error.message : String(error)}`);
    const context: PageContext = { instance: app.instance, user: undefined, csrf: "", visits: 0 };
    return page(app, 503, errorPage(context, 503, "Product database unavailable", "The products could not be read or saved. Try again in a moment."));
  }
  if (reply === undefined) return undefined;
  return "location" in reply ? redirect(app, reply.location) : page(app, reply.status, reply.body);
}

/** Login: a new session id (the pre-login id may be known to an attacker), a new CSRF token. */
async function startSession(app: DemoApp, session: SessionPort, req: DemoRequest, user: PublicUser): Promise<void> {
  await session.regenerate();
  const data: DemoSessionData = { csrf: newCsrfToken(), user, visits: 0 };
  for (const [key, value] of Object.entries(data)) session.set(key as keyof DemoSessionData, value as never);
  await app.sessions.describe(session.id(), { ...data }, { device: describeDevice(req.userAgent), ip: req.ip });
}

/** The page for a request that failed (store down, bug). Never shows the error's details to the visitor. */
export function failure(app: DemoApp, error: unknown): DemoResponse {
  const context: PageContext = { instance: app.instance, user: undefined, csrf: "", visits: 0 };
  if (isSessionStoreError(error) && (error.code === "UNAVAILABLE" || error.code === "TIMEOUT")) {
    return { ...page(app, 503, errorPage(context, 503, "Session store unavailable", "The shared session store did not answer in time. This page will work again as soon as it is back: try again in a moment.")), headers: { ...BASE_HEADERS, "content-type": "text/html; charset=utf-8", "retry-after": "2", "x-served-by": app.instance.name } };
  }
  if (isSessionStoreError(error) && error.code === "UNSUPPORTED") {
    // Memcached cannot list keys, so it keeps no per-user index: no active-sessions page there.
    return page(app, 501, errorPage(context, 501, "Not available on this session store", "Listing and revoking a user's sessions needs a per-user index, which this backend does not keep (Redis and the in-memory store do; Memcached does not)."));
  }
  return page(app, 500, errorPage(context, 500, "Something went wrong", "The request failed. Try again; if it keeps failing, look at the demo's console."));
}
