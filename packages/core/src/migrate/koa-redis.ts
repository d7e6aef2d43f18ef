import { isPlainObject } from "../codec.js";
import { ttlFromExpiry } from "../expiry.js";
import type { SourceSession } from "./source.js";

/**
 * koa-redis (koa-session's external store): the session as JSON under the key koa-session gives it,
 * which is the cookie's value itself (koa-session's own `prefix` option is part of that value), so the
 * default prefix is "". koa-session adds `_expire` (when its cookie expires, epoch ms) and `_maxAge`;
 * `_session: true` marks a browser-session cookie. Those become the record's expiry and idle timeout.
 */
export const koaRedis = { name: "koa-redis", defaultPrefix: "", toSession: koaSession } as const;

function koaSession(value: unknown, now: number, fallbackTtlMs: number): SourceSession | null {
  if (!isPlainObject(value)) return null;
  const { _expire, _maxAge, _session, ...data } = value;
  if (_session === true) return { data, ttlMs: fallbackTtlMs, expiresAtMs: now + fallbackTtlMs, browserSession: true };
  // Both fields are always there on a koa-session value: without them this key is not a session.
  if (typeof _expire !== "number" || !Number.isFinite(_expire) || typeof _maxAge !== "number" || !(_maxAge > 0)) return null;
  const ttl = ttlFromExpiry({ originalMaxAge: _maxAge }, now);
  return { data, ttlMs: typeof ttl === "number" ? ttl : fallbackTtlMs, expiresAtMs: _expire };
}
