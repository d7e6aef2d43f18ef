/**
 * Every failure the store reports is a `SessionStoreError` with a stable `code`.
 * Messages say what happened, where (the backend's label, never its credentials) and what to do.
 */
export type SessionStoreErrorCode =
  /** An option is invalid. Thrown at construction, naming the option. */
  | "CONFIG"
  /** The operation did not finish within `timeoutMs`. */
  | "TIMEOUT"
  /** The backend cannot be reached (stopped, refusing, failing over). */
  | "UNAVAILABLE"
  /** The backend refused our credentials or permissions. */
  | "AUTH"
  /** The encoded session is larger than `maxBytes` (or the server's item size); nothing was written. */
  | "TOO_LARGE"
  /** The session id is not a non-empty string of at most 256 printable characters. */
  | "INVALID_ID"
  /** A stored value could not be decoded. `get` treats it as "no session" and emits `corrupt`. */
  | "CORRUPT"
  /** The backend cannot do this (for example listing keys on Memcached). */
  | "UNSUPPORTED"
  /** A conditional write lost a race it could not resolve. */
  | "CONFLICT"
  /** The store was closed. */
  | "CLOSED"
  /** The backend answered with an error we did not expect. */
  | "BACKEND";

export interface SessionStoreErrorOptions {
  cause?: unknown;
  /** Backend label such as `redis 127.0.0.1:6379`; never contains credentials. */
  backend?: string;
}

export class SessionStoreError extends Error {
  override readonly name = "SessionStoreError";
  readonly code: SessionStoreErrorCode;
  readonly backend: string | undefined;

  constructor(code: SessionStoreErrorCode, message: string, options: SessionStoreErrorOptions = {}) {
    super(`sessionbridge: ${message}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.backend = options.backend;
  }
}

/** True for any SessionStoreError, also across ESM/CJS copies of the package. */
export function isSessionStoreError(value: unknown): value is SessionStoreError {
  return value instanceof SessionStoreError || (value instanceof Error && value.name === "SessionStoreError" && typeof (value as { code?: unknown }).code === "string");
}

export function configError(option: string, accepts: string, got?: unknown): SessionStoreError {
  const shown = got === undefined ? "" : ` (got ${describe(got)})`;
  return new SessionStoreError("CONFIG", `option "${option}" must be ${accepts}${shown}`);
}

/** Describes a value for an error message without echoing strings, which may be secrets. */
export function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return `a string of ${value.length} characters`;
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : String(value);
  return typeof value;
}
