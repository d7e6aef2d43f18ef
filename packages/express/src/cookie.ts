import session from "express-session";

/**
 * The cookie attributes express-session is configured with, for one request.
 *
 * The canonical record keeps no framework cookie (a session may have been created by Fastify or Koa), so
 * a loaded session gets its cookie attributes (path, domain, secure, sameSite, httpOnly…) from the
 * middleware's own configuration.
 */
export interface CookieData {
  originalMaxAge: number | null;
  expires?: Date | null;
  [attribute: string]: unknown;
}

type CookieOptions = Omit<session.CookieOptions, "secure" | "sameSite"> & { secure?: boolean | "auto"; sameSite?: unknown };
export type CookieSetting = CookieOptions | ((req: unknown) => CookieOptions);

/**
 * The configuration learned once, when `sessionbridge()` creates the express-session middleware: a
 * static `cookie` option becomes one template at construction; per request only what depends on the
 * request is resolved (`secure: "auto"`, `sameSite: "auto"`, or a `cookie` given as a function), exactly
 * as express-session's own `store.generate` resolves it.
 */
export class CookieSettings {
  private readonly fixed: Readonly<CookieData> | undefined;
  private readonly autoSecure: boolean;
  private readonly autoSameSite: boolean;

  constructor(
    private readonly cookie: CookieSetting | undefined,
    private readonly trustProxy: boolean | undefined,
  ) {
    const options = cookie ?? {};
    this.fixed = typeof options === "function" ? undefined : Object.freeze(dataOf(options));
    // As express-session: "auto" is read from the option object itself (never from a function's result).
    this.autoSecure = (options as CookieOptions).secure === "auto";
    this.autoSameSite = (options as CookieOptions).sameSite === "auto";
  }

  /** The attributes for `req`; the caller copies before changing them (a static template is shared). */
  templateFor(req: RequestLike): Readonly<CookieData> {
    const data = this.fixed ?? dataOf((this.cookie as (req: unknown) => CookieOptions)(req));
    if (!this.autoSecure && !this.autoSameSite) return data;
    const secure = isSecure(req, this.trustProxy);
    const resolved: CookieData = { ...data };
    if (this.autoSecure) resolved.secure = secure;
    if (this.autoSameSite) resolved.sameSite = secure ? "none" : "lax";
    return resolved;
  }
}

/** What express-session's `Cookie` makes of these options (its defaults, maxAge → originalMaxAge). */
function dataOf(options: CookieOptions): CookieData {
  const Cookie = session.Cookie as unknown as new (options: CookieOptions) => { data: CookieData };
  return new Cookie(options).data;
}

export interface RequestLike {
  connection?: { encrypted?: boolean } | null;
  secure?: boolean;
  headers?: Record<string, string | string[] | undefined>;
}

/** express-session's own test (`issecure`): TLS socket, else `req.secure`, else X-Forwarded-Proto with `proxy: true`. */
function isSecure(req: RequestLike, trustProxy: boolean | undefined): boolean {
  if (req.connection?.encrypted) return true;
  if (trustProxy === false) return false;
  if (trustProxy !== true) return req.secure === true;
  const header = req.headers?.["x-forwarded-proto"];
  const value = (Array.isArray(header) ? header[0] : header) ?? "";
  const comma = value.indexOf(",");
  return (comma === -1 ? value : value.slice(0, comma)).toLowerCase().trim() === "https";
}

/**
 * For a store mounted with plain `session({ store: createExpressStore(…) })`, whose configuration the
 * store cannot see: express-session installs `store.generate(req)`, which builds a fresh session with the
 * configured cookie. We call it on a throw-away object that inherits from the request, so the real
 * request is untouched. This costs a new session id and a Session per loaded request: `sessionbridge()`
 * learns the configuration once instead.
 */
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
