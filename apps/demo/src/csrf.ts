import { randomBytes, timingSafeEqual } from "node:crypto";

/**
 * Synchronizer-token CSRF protection: one random token per session, embedded in every form, compared
 * in constant time on every state-changing request. A cross-site page can make the browser send the
 * cookie but cannot read the token out of our pages.
 */
export function newCsrfToken(): string {
  return randomBytes(24).toString("base64url");
}

export function csrfMatches(expected: unknown, submitted: unknown): boolean {
  if (typeof expected !== "string" || typeof submitted !== "string" || expected.length === 0) return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(submitted);
  return a.length === b.length && timingSafeEqual(a, b);
}
