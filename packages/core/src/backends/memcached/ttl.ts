/** Memcached reads an expiration above 30 days as an absolute unix time, not a number of seconds. */
export const MAX_RELATIVE_SECONDS = 30 * 24 * 3600;

/**
 * The expiration field memcached expects for a TTL in milliseconds.
 *
 * - Memcached counts whole seconds, so the TTL rounds up: 1 ms becomes 1 s (0 would mean "never
 *   expire", the opposite of what a short TTL asks for).
 * - Over 30 days, a relative value would be read as a timestamp in 1970 and the item would expire at
 *   once, so it becomes an absolute unix time. That uses this machine's clock: keep clocks in sync (NTP).
 */
export function expirationFor(ttlMs: number, nowMs = Date.now()): number {
  const seconds = Math.max(1, Math.ceil(ttlMs / 1000));
  if (seconds <= MAX_RELATIVE_SECONDS) return seconds;
  return Math.ceil(nowMs / 1000) + seconds;
}
