import { MAX_TTL_MS } from "./ttl.js";

/**
 * A framework's cookie expiry turned into a session TTL: shared by the adapters (adapter-support.ts) and
 * the incumbent format readers (migrate/), which read the same express-session cookie from a stored value.
 */

/** The expiry a framework keeps with its session (express-session / @fastify/session cookie, koa-session's `_expire`/`_maxAge`). */
export interface FrameworkExpiry {
  /** When the session's cookie expires (Date, epoch ms or date string); null/undefined for a browser-session cookie. */
  expires?: Date | number | string | null | undefined;
  /** The idle timeout the framework slides the cookie by, in ms. */
  originalMaxAge?: number | null | undefined;
}

/**
 * The TTL to write for a framework's expiry: its idle timeout (`originalMaxAge`), else the time left
 * until `expires`, else undefined (the session's own or the store's `ttlMs`). "expired" when the cookie
 * has already expired: the browser will not send it again, so the session should be destroyed.
 */
export function ttlFromExpiry(expiry: FrameworkExpiry | null | undefined, now = Date.now()): number | undefined | "expired" {
  const left = remainingMs(expiry?.expires, now);
  if (left !== undefined && left <= 0) return "expired";
  const ttl = frameworkTtl(expiry, left);
  // A browser keeps no cookie longer than 400 days, so a longer framework maxAge is capped there (the
  // store refuses a larger ttlMs given directly).
  return ttl === undefined ? undefined : Math.min(ttl, MAX_TTL_MS);
}

function frameworkTtl(expiry: FrameworkExpiry | null | undefined, left: number | undefined): number | undefined {
  const original = expiry?.originalMaxAge;
  if (typeof original === "number" && original > 0) {
    // express-session recomputes originalMaxAge as `expires - Date.now()` whenever expires is set, so a
    // one-day cookie sometimes says 86 399 999. Unrounded, sessions carry TTLs a few ms apart: the TTL hint
    // misses (an extra PEXPIRE after the GETEX) and a save sees a "changed" TTL (a full rewrite on a read).
    // A TTL of a minute or more is kept to whole seconds; shorter ones (tests, demos) stay exact.
    return original >= 60_000 ? Math.round(original / 1000) * 1000 : Math.max(1, Math.round(original));
  }
  return left === undefined ? undefined : Math.ceil(left);
}

/**
 * Whether a framework's cookie ends with the browser session (no `expires`, no positive
 * `originalMaxAge`): stored in the record (`browserSession`) so the cookie is rebuilt that way when the
 * session is read back. Undefined when the framework gave no expiry at all (keep what the session had).
 */
export function isBrowserSessionCookie(expiry: FrameworkExpiry | null | undefined): boolean | undefined {
  if (expiry === null || expiry === undefined) return undefined;
  const original = expiry.originalMaxAge;
  return (expiry.expires === null || expiry.expires === undefined) && !(typeof original === "number" && original > 0);
}

/** Milliseconds left until `expires`, or undefined when there is no expiry. Zero or less means expired. */
export function remainingMs(expires: Date | number | string | null | undefined, now = Date.now()): number | undefined {
  if (expires === null || expires === undefined) return undefined;
  const at = expires instanceof Date ? expires.getTime() : typeof expires === "number" ? expires : Date.parse(expires);
  return Number.isFinite(at) ? at - now : undefined;
}
