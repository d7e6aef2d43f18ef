/**
 * The one session cookie every instance reads and writes, whatever its framework: same name, same
 * secret, same signature format (express-session's "s:" + cookie-signature), see
 * docs/cross-framework.md. HttpOnly keeps it from scripts; SameSite=Lax keeps it off cross-site POSTs
 * (CSRF tokens are the second line); Secure is set whenever the request arrived over TLS, as the
 * balancer reports in X-Forwarded-Proto.
 */
export const COOKIE_NAME = "sb.sid";

export interface CookieSettings {
  name: string;
  secret: string;
  /** Cookie and session lifetime in milliseconds. */
  ttlMs: number;
}
