import { SessionStoreError } from "../../errors.js";

/**
 * Maps what ioredis and Redis report to SessionStoreError codes. Messages name the server (the label)
 * and the ACL user, never a password, key or session id: Redis error texts can quote a key (NOPERM), so
 * only the leading error code of a reply is ever shown.
 */

/** First word of a Redis error reply (`WRONGPASS`, `NOPERM`, `READONLY`, …), or "" for other errors. */
export function replyCode(error: unknown): string {
  if (!(error instanceof Error)) return "";
  const first = /^([A-Z][A-Z_]+)\b/.exec(error.message)?.[1];
  return first ?? "";
}

const AUTH_CODES = new Set(["WRONGPASS", "NOAUTH", "NOPERM"]);
const CONNECTION_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN", "ECONNABORTED"]);

export function isAuthError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return AUTH_CODES.has(replyCode(error)) || /invalid (username-)?password|invalid password/i.test(error.message);
}

/** A reply that proves the command was not executed and a fresh connection may succeed (failover, restart). */
export function isRetryableReply(error: unknown): boolean {
  const code = replyCode(error);
  return code === "READONLY" || code === "LOADING" || code === "MASTERDOWN";
}

/** The connection refused or broke at the socket level (the server is down or unreachable). */
export function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && CONNECTION_CODES.has(code);
}

/** The server's certificate was not accepted (unknown CA, wrong host name, expired): retrying will not help. */
export function isCertificateError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/.test(code);
}

/**
 * A failed SELECT of the connect handshake. ioredis reports it as an 'error' event naming the command
 * and then carries on in db 0; node-redis fails the handshake with the bare reply (and retries), and
 * only SELECT answers with these two messages.
 */
export function isSelectError(error: unknown): boolean {
  if ((error as { command?: { name?: unknown } } | null)?.command?.name === "select") return true;
  return error instanceof Error && /^ERR (DB index is out of range|SELECT is not allowed in cluster mode)/.test(error.message);
}

/**
 * The configured database could not be selected. `databases` is the server's count (CONFIG GET
 * databases) when it would tell; ElastiCache refuses CONFIG.
 */
export function selectError(error: unknown, label: string, db: number, databases: number | undefined): SessionStoreError {
  const said = replyCode(error) === "ERR" ? (error as Error).message.split(/, with args|\r|\n/)[0]?.replace(/^ERR /, "").slice(0, 100) : reason(error);
  const has = databases === undefined ? "Redis has 16 databases (0–15) unless its databases setting says otherwise" : `the server has ${databases}: databases 0–${databases - 1}`;
  const fix = /cluster/i.test(said ?? "") ? "a Redis Cluster has only database 0: remove the /" + db + " from the URL (or the db option) and use the cluster option" : `fix the /${db} in the URL (or the db option)`;
  return new SessionStoreError("CONFIG", `${label}: database ${db} cannot be selected (${said}; ${has}) — ${fix}. Nothing is read or written until it can be`, { cause: safeCause(error), backend: label });
}

/** Short, secret-free reason for a message: a socket code or the reply's error code. */
export function reason(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string" && /^E[A-Z_]+$/.test(code)) return code;
  const reply = replyCode(error);
  if (reply !== "") return reply;
  if (error instanceof Error) {
    if (/timed out|timeout/i.test(error.message)) return "no answer";
    if (/TLS|certificate|self[- ]signed|SSL/i.test(error.message)) return `TLS: ${error.message.slice(0, 120)}`;
    // ioredis's words, then node-redis's.
    if (/Connection is closed|isn't writeable|MaxRetriesPerRequest|aborted|client is closed|client is offline|Socket closed unexpectedly/i.test(error.message)) return "connection lost";
  }
  return "unknown error";
}

export interface ErrorContext {
  /** `redis 127.0.0.1:6379` */
  label: string;
  /** The ACL user, when one is configured (shown; it is not a secret). */
  username: string | undefined;
  /** What we were doing: `get`, `set`, `connect`. */
  what: string;
}

export function authError(error: unknown, context: ErrorContext): SessionStoreError {
  const user = `user "${context.username ?? "default"}"`;
  const code = replyCode(error);
  if (code === "NOPERM" && context.what === "publish") {
    return new SessionStoreError(
      "AUTH",
      `${context.label}: ${user} is not allowed to publish (NOPERM) — its ACL must allow the channel (e.g. &cache:* for the cache's default prefix, or allchannels) and the commands PUBLISH and SUBSCRIBE`,
      { cause: safeCause(error), backend: context.label },
    );
  }
  if (code === "NOPERM") {
    return new SessionStoreError(
      "AUTH",
      `${context.label}: ${user} is not allowed to ${context.what} (NOPERM) — its ACL must allow the session keys (e.g. ~sess:* for the default prefix) and the commands GET GETEX SET PEXPIRE UNLINK SCAN EVALSHA EVAL PING (plus ZADD ZRANGE ZRANGEBYSCORE ZREM ZREMRANGEBYSCORE PTTL for the per-user index)`,
      { cause: safeCause(error), backend: context.label },
    );
  }
  const hint = context.username === undefined ? "check the password (AUTH token) in the URL or the password option" : "check the user name and password in the URL or the username / password options";
  return new SessionStoreError("AUTH", `${context.label}: authentication failed for ${user} (${code || "rejected"}) — ${hint}`, { cause: safeCause(error), backend: context.label });
}

/**
 * The error to keep as `cause`. ioredis attaches the failed command to its errors (`command.args`: the
 * AUTH / HELLO password, session keys, stored values) and Redis may quote arguments in the text, and
 * `console.error(error)` prints causes with all their properties. So the cause is a copy with the same
 * name, code and stack, and only the secret-free part of the message.
 */
export function safeCause(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  const copy = new Error(error.message.split(/, with args|\r|\n/)[0]?.slice(0, 200));
  copy.name = error.name;
  if (error.stack !== undefined) copy.stack = `${copy.name}: ${copy.message}\n${error.stack.split("\n").slice(1).join("\n")}`;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string") Object.assign(copy, { code });
  return copy;
}

/** Any failure of a command or of the connection, as a SessionStoreError. */
export function mapRedisError(error: unknown, context: ErrorContext): SessionStoreError {
  if (error instanceof SessionStoreError) return error;
  const { label, what } = context;
  if (isAuthError(error)) return authError(error, context);
  const code = replyCode(error);
  if (error instanceof Error && /^Command timed out/.test(error.message)) {
    return new SessionStoreError("TIMEOUT", `${label}: ${what} got no answer in time — the server is slow, hung or unreachable`, { cause: safeCause(error), backend: label });
  }
  if (isRetryableReply(error)) {
    const why = code === "READONLY" ? "the server is a read-only replica (READONLY; a failover demoted it) — point the store at the primary endpoint" : `the server is not ready (${code}; restarting or failing over)`;
    return new SessionStoreError("UNAVAILABLE", `${label}: ${what} failed: ${why}`, { cause: safeCause(error), backend: label });
  }
  if (code === "WRONGTYPE") {
    // A key under our prefix holding a list, hash, set… (or a string where the per-user index belongs):
    // nothing sessionbridge wrote, so it is corrupt data, which the store reads as "no session".
    return new SessionStoreError("CORRUPT", `${label}: ${what} met a key holding another type of value (WRONGTYPE): not something sessionbridge wrote`, { cause: safeCause(error), backend: label });
  }
  if (code === "OOM") {
    return new SessionStoreError("BACKEND", `${label}: ${what} refused: the server is out of memory (OOM) — raise maxmemory or use an eviction policy such as volatile-ttl`, { cause: safeCause(error), backend: label });
  }
  if (code !== "" && code !== "ERR") {
    return new SessionStoreError("BACKEND", `${label}: ${what} failed (${code})`, { cause: safeCause(error), backend: label });
  }
  if (code === "ERR") {
    // Keep the server's words up to where Redis starts quoting arguments (which may hold a session key).
    const said = (error as Error).message.split(/, with args|\r|\n/)[0]?.slice(0, 100) ?? "ERR";
    const hint = /unknown command/i.test(said) ? " — sessionbridge needs Redis or Valkey 6.2 or newer" : "";
    return new SessionStoreError("BACKEND", `${label}: ${what} failed: ${said}${hint}`, { cause: safeCause(error), backend: label });
  }
  return new SessionStoreError("UNAVAILABLE", `${label}: ${what} failed: ${reason(error)} — is the server running and reachable?`, { cause: safeCause(error), backend: label });
}
