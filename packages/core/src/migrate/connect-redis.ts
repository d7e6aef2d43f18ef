import { isPlainObject } from "../codec.js";
import { isBrowserSessionCookie, ttlFromExpiry } from "../expiry.js";
import type { SourceSession } from "./source.js";

/**
 * connect-redis (8 and 9): the express-session (or @fastify/session) session as JSON under
 * `prefix + id`, default prefix "sess:", with the key's TTL set to the cookie's expiry (else `ttl`,
 * one day). The cookie (`originalMaxAge`, `expires`) is turned into the record's idle timeout and expiry;
 * the rest is the user's data.
 */
export const connectRedis = { name: "connect-redis", defaultPrefix: "sess:", toSession: expressSession } as const;

/**
 * The session in an express-session value (the shape connect-redis, connect-memjs and connect-memcached
 * store): null when it is not one (no `cookie` object), so a stray key is never taken for a session.
 * A browser-session cookie (no expiry) gets `fallbackTtlMs` from now: the incumbent's key TTL is not in
 * the value.
 */
export function expressSession(value: unknown, now: number, fallbackTtlMs: number): SourceSession | null {
  if (!isPlainObject(value) || !isPlainObject(value.cookie)) return null;
  const { cookie, ...data } = value;
  const expires = cookie.expires;
  const originalMaxAge = cookie.originalMaxAge;
  if (expires !== null && expires !== undefined && typeof expires !== "string" && typeof expires !== "number") return null;
  if (originalMaxAge !== null && originalMaxAge !== undefined && typeof originalMaxAge !== "number") return null;
  const ttl = ttlFromExpiry({ expires, originalMaxAge }, now);
  if (ttl === "expired") return { data, ttlMs: fallbackTtlMs, expiresAtMs: now };
  const ttlMs = ttl ?? fallbackTtlMs;
  const at = expires === null || expires === undefined ? Number.NaN : new Date(expires).getTime();
  const session: SourceSession = { data, ttlMs, expiresAtMs: Number.isFinite(at) ? at : now + ttlMs };
  if (isBrowserSessionCookie({ expires, originalMaxAge }) === true) session.browserSession = true;
  return session;
}
