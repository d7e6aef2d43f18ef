import signature from "cookie-signature";
import { SessionStoreError } from "@sessionbridge/core";

export interface ExpressCookieOptions {
  /** Cookie name; use the same one as express-session's `name` and @fastify/session's `cookieName`. Default "connect.sid". */
  name?: string;
  /**
   * The signing secret(s), the same as express-session's `secret` and @fastify/session's `secret`. With
   * several, the first signs and every one is accepted (rotation). Required.
   */
  secret: string | readonly string[];
}

interface CookieContext {
  cookies: {
    get(name: string, options?: { signed?: boolean }): string | undefined;
    set(name: string, value: string, options?: Record<string, unknown>): unknown;
  };
  sessionOptions?: Record<string, unknown>;
}

/**
 * koa-session's `externalKey` for a session cookie that Express and Fastify read too:
 * `<name>=s:<id>.<HMAC-SHA256>` as express-session writes it (cookie-signature), instead of koa-session's
 * own cookie plus a separate keygrip `.sig` cookie. The other cookie attributes (maxAge, path, domain,
 * secure, sameSite, httpOnly) come from koa-session's options as usual.
 */
/** What {@link expressCookie} returns: koa-session's `externalKey` option. */
export interface ExpressCookie {
  /** The session id the request's cookie carries, or "" for none (koa-session then starts a new session). */
  get(ctx: CookieContext): string;
  set(ctx: CookieContext, id: string): void;
}

export function expressCookie(options: ExpressCookieOptions): ExpressCookie {
  if (options === null || typeof options !== "object") throw new SessionStoreError("CONFIG", "expressCookie(options): options must be an object with a secret");
  const name = options.name ?? "connect.sid";
  if (typeof name !== "string" || name.length === 0) throw new SessionStoreError("CONFIG", 'option "name" must be a non-empty cookie name');
  const secrets = typeof options.secret === "string" ? [options.secret] : Array.isArray(options.secret) ? [...options.secret] : [];
  if (secrets.length === 0 || !secrets.every((s) => typeof s === "string" && s.length > 0)) {
    throw new SessionStoreError("CONFIG", 'option "secret" must be the signing secret (a non-empty string, or an array of them, newest first)');
  }
  const newest = secrets[0] as string;
  return {
    get(ctx) {
      const raw = ctx.cookies.get(name, { signed: false });
      if (!raw) return "";
      let value: string;
      try {
        value = decodeURIComponent(raw); // Express and Fastify URL-encode the value ("s%3A…")
      } catch {
        return "";
      }
      if (!value.startsWith("s:")) return "";
      for (const secret of secrets) {
        const id = signature.unsign(value.slice(2), secret);
        if (id !== false) return id;
      }
      return ""; // forged or signed with a retired secret: a new session
    },
    set(ctx, id) {
      const { maxAge, path, domain, secure, sameSite, httpOnly, overwrite } = ctx.sessionOptions ?? {};
      const attributes = { path, domain, secure, sameSite, httpOnly, overwrite, maxAge: typeof maxAge === "number" ? maxAge : undefined, signed: false };
      ctx.cookies.set(name, encodeURIComponent(`s:${signature.sign(id, newest)}`), attributes);
    },
  };
}
