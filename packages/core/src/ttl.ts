import { configError } from "./errors.js";

/**
 * TTLs in one place. Backends count whole milliseconds (Redis PX/PEXPIRE refuse "1.5" with "value is
 * not an integer") or whole seconds (Memcached, which rounds up itself), so every TTL the store hands
 * a backend is a whole number of milliseconds, rounded up: a TTL never ends earlier than asked.
 */

/** Largest TTL we accept: 400 days, the most a browser keeps a cookie. */
export const MAX_TTL_MS = 400 * 24 * 3600 * 1000;

/**
 * A `ttlMs` given by the application (store option or per-call option): a number of milliseconds
 * above 0 and at most 400 days, rounded up to a whole millisecond. Anything else is refused naming the option.
 */
export function ttlMsOption(option: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0 || value > MAX_TTL_MS) {
    throw configError(option, `a number of milliseconds above 0 and at most ${MAX_TTL_MS} (400 days, the longest a browser keeps a cookie)`, value);
  }
  return Math.ceil(value);
}

/**
 * The idle timeout of a record read back from the backend (stored bytes are untrusted, and older
 * versions stored a fractional `ttlMs` as given): rounded up and capped at 400 days, so a read never
 * fails on it. Null when it is no usable TTL at all (the record is corrupt).
 */
export function storedTtlMs(value: unknown): number | null {
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) return null;
  return Math.min(Math.ceil(value), MAX_TTL_MS);
}

/** The TTL handed to a backend command: whole milliseconds (rounded up), at least 1. */
export function backendTtlMs(ms: number): number {
  return Math.max(1, Math.ceil(ms));
}
