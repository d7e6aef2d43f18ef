import { isSessionStoreError, SessionStoreError } from "../../errors.js";
import { tlsMismatchError } from "../tls-mismatch.js";
import { AuthFailure, ConnectionClosed, TlsMismatchFailure } from "./connection.js";

/**
 * True when an error means "this node cannot be reached right now" (refused, reset, closed, timed out,
 * TLS handshake failed): the pool then leaves the node out and its keys go to the next node. Anything
 * else (a refused login, an unexpected reply) is a problem with us, not with the node.
 */
export function isNodeFailure(error: unknown): boolean {
  if (error instanceof AuthFailure || error instanceof TlsMismatchFailure || isSessionStoreError(error)) return false; // ours: the node did answer
  if (error instanceof ConnectionClosed) return true;
  if (!(error instanceof Error)) return false;
  const code = (error as NodeJS.ErrnoException).code;
  if (typeof code === "string") return true; // socket and TLS errors carry a code (ECONNREFUSED, ECONNRESET, ERR_SSL_…)
  return /socket timed out|closed|No servers available/i.test(error.message);
}

/**
 * True when an established connection broke (closed, reset) rather than the node refusing or failing
 * to answer: typically a node that restarted, or an idle connection that was cut. A fresh connection
 * usually works, so the request is retried once on the same node before the node counts as down.
 */
export function isBrokenConnection(error: unknown): boolean {
  if (error instanceof ConnectionClosed) return true;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === "ECONNRESET" || code === "EPIPE";
}

/** The node's own failure, as a SessionStoreError that names the node and never a credential. */
export function nodeError(error: unknown, node: string, username: string | undefined): SessionStoreError {
  const label = `memcached ${node}`;
  if (error instanceof AuthFailure) {
    const message =
      username === undefined
        ? `${label}: the server requires SASL authentication — give username and password (memcached -S)`
        : `${label}: authentication failed for user "${username}" — check the username and password`;
    return new SessionStoreError("AUTH", message, { cause: error, backend: label });
  }
  if (error instanceof TlsMismatchFailure) {
    return tlsMismatchError(label, error.mismatch, { useTls: "turn TLS on (tls: true or { ca }, or ?tls=true in the URL)", usePlain: "leave out the tls option (and ?tls=true in the URL)" }, error.cause);
  }
  if (error instanceof Error && /socket timed out/i.test(error.message)) {
    return new SessionStoreError("TIMEOUT", `${label}: no answer in time (${error.message.replace(/\.$/, "")})`, { cause: error, backend: label });
  }
  if (isNodeFailure(error)) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === undefined ? (error as Error).message : `${code}: ${(error as Error).message}`;
    // A certificate the client does not trust is a configuration problem, and says so.
    const hint = code !== undefined && /CERT|SSL|TLS|SIGNATURE|ALTNAME/.test(code) ? " — the TLS handshake failed: check tls.ca and tls.servername" : "";
    return new SessionStoreError("UNAVAILABLE", `${label}: cannot be reached (${reason})${hint}`, { cause: error, backend: label });
  }
  const message = error instanceof Error ? error.message : "unknown error";
  return new SessionStoreError("BACKEND", `${label}: ${message}`, { cause: error, backend: label });
}

/** A reply status we did not expect for the command. */
export function statusError(status: number, what: string, node: string): SessionStoreError {
  const label = `memcached ${node}`;
  const names: Record<number, string> = { 0x04: "invalid arguments", 0x05: "item not stored", 0x81: "unknown command", 0x82: "out of memory", 0x83: "not supported", 0x84: "internal error", 0x85: "busy", 0x86: "temporary failure" };
  return new SessionStoreError("BACKEND", `${label}: ${what} answered status 0x${status.toString(16)} (${names[status] ?? "unexpected"})`, { backend: label });
}
