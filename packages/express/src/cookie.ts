/**
 * The cookie attributes express-session is configured with, for one request.
 *
 * The canonical record keeps no framework cookie (a session may have been created by Fastify or Koa), so
 * a loaded session gets its cookie attributes (path, domain, secure, sameSite, httpOnly…) from the
 * middleware's own configuration. express-session keeps that configuration private but installs
 * `store.generate(req)`, which builds a fresh session with the configured cookie (resolving
 * `secure: "auto"` and cookie functions for this request). We call it on a throw-away object that
 * inherits from the request, so the real request is untouched.
 */
export interface CookieData {
  originalMaxAge: number | null;
  expires?: Date | null;
  [attribute: string]: unknown;
}

export function cookieTemplate(store: object, req: object): CookieData | undefined {
  const generate = (store as { generate?: (req: object) => void }).generate;
  if (typeof generate !== "function") return undefined; // not mounted in express-session (yet)
  try {
    const probe = Object.create(req) as { session?: { cookie?: { data?: CookieData } } };
    generate.call(store, probe);
    const data = probe.session?.cookie?.data;
    return data ? { ...data } : undefined;
  } catch {
    return undefined; // e.g. Store#load's fake request: fall back to express-session's defaults
  }
}
