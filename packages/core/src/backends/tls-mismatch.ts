import { connect as netConnect } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { isIP } from "node:net";
import { SessionStoreError } from "../errors.js";

/**
 * TLS on one side only: a TLS client talking to a plain port, or a plain client talking to a TLS-only
 * port. Neither fails by itself with a useful error: a plain Redis waits forever for the end of the
 * line it thinks the TLS ClientHello is (so the client times out), and a TLS server just resets the
 * plain connection (so the client sees ECONNRESET like any outage). This file recognises the case,
 * asking the server on a short side connection when its errors do not tell, so that the backends can
 * say what is wrong at once. Used by the Redis and Memcached backends.
 */

export type TlsMismatch = "tls-to-plain" | "plain-to-tls";

/**
 * OpenSSL codes for "the reply was not TLS at all" (the server answered in plain text, e.g. memcached's
 * `ERROR` or a Redis `-ERR`), as opposed to a certificate that is not trusted.
 */
const NOT_TLS_CODES = new Set(["ERR_SSL_WRONG_VERSION_NUMBER", "ERR_SSL_PACKET_LENGTH_TOO_LONG", "ERR_SSL_HTTP_REQUEST", "ERR_SSL_RECORD_LAYER_FAILURE", "ERR_SSL_UNEXPECTED_MESSAGE"]);

/** A TLS client's error that proves the server answered without TLS. */
export function isPlainReplyToTls(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && NOT_TLS_CODES.has(code);
}

/** TLS record types a server can send first: a handshake (0x16) or an alert (0x15). */
function isTlsRecordStart(byte: number | undefined): boolean {
  return byte === 0x15 || byte === 0x16;
}

/**
 * True when the server at host:port answers `hello` (e.g. `PING\r\n`) in plain text, that is, speaks
 * plain TCP. A TLS server closes the connection or answers with a TLS record: false. Never rejects.
 */
export function answersPlain(host: string, port: number, hello: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = netConnect({ host, port });
    const done = (plain: boolean) => {
      socket.destroy();
      resolve(plain);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => socket.write(hello));
    socket.once("data", (chunk: Buffer) => done(!isTlsRecordStart(chunk[0])));
    socket.once("error", () => done(false));
    socket.once("close", () => done(false));
  });
}

/**
 * True when the server at host:port speaks TLS: the handshake completes or the server answers with a
 * TLS alert. Only the protocol is probed — nothing is sent over the connection and the certificate is
 * not what is being checked here (the real connection verifies it). Never rejects.
 */
export function answersTls(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ host, port, servername: isIP(host) ? undefined : host, rejectUnauthorized: false });
    const done = (tls: boolean) => {
      socket.destroy();
      resolve(tls);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("secureConnect", () => done(true));
    // An alert from the server (e.g. it demands a client certificate) is TLS too; a reset or a plain reply is not.
    socket.once("error", (error: NodeJS.ErrnoException) => done(/alert/i.test(error.message) && !isPlainReplyToTls(error)));
    socket.once("close", () => done(false));
  });
}

/** Says which side has TLS and what to change; `fixes` are the backend's own words for its options. */
export function tlsMismatchError(label: string, mismatch: TlsMismatch, fixes: { useTls: string; usePlain: string }, cause?: unknown): SessionStoreError {
  const message =
    mismatch === "tls-to-plain"
      ? `${label}: TLS is on, but the server speaks plain TCP (no TLS) on this port — ${fixes.usePlain}, or connect to the server's TLS port`
      : `${label}: the server expects TLS on this port and closed the plain connection — ${fixes.useTls}`;
  return new SessionStoreError("CONFIG", message, { backend: label, cause });
}
