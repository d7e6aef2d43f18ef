import memjs from "memjs";
import { isIP, connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { answersTls, isPlainReplyToTls, type TlsMismatch } from "../tls-mismatch.js";
import { TurnCork } from "../turn-cork.js";
import type { MemcachedTlsOptions } from "./options.js";

/** The server refused our SASL credentials (or demanded some we did not give). */
export class AuthFailure extends Error {
  override readonly name = "AuthFailure";
}

/** TLS on one side only: the node answered, in the other protocol (see ../tls-mismatch.ts). */
export class TlsMismatchFailure extends Error {
  override readonly name = "TlsMismatchFailure";
  constructor(
    readonly mismatch: TlsMismatch,
    cause: unknown,
  ) {
    super(mismatch === "tls-to-plain" ? "the server answered without TLS" : "the server expects TLS", { cause });
  }
}

/** The server closed the connection while requests were waiting for answers. */
export class ConnectionClosed extends Error {
  override readonly name = "ConnectionClosed";
}

/** The parts of memjs's Server this subclass drives (they are plain fields on the memjs object). */
interface ServerInternals {
  _socket: Socket | undefined;
  responseBuffer: Buffer;
  connected: boolean;
  timeoutSet: boolean;
  connectCallbacks: Array<(socket: Socket) => void>;
  username: string | undefined;
  password: string | undefined;
  options: { timeout: number; conntimeout: number };
  responseHandler(chunk: Buffer): void;
  listSasl(): void;
  onConnect(go: (socket: Socket) => void): void;
}

export interface ConnectionSettings {
  host: string;
  port: number;
  username: string | undefined;
  password: string | undefined;
  tls: MemcachedTlsOptions | undefined;
  timeoutMs: number;
}

/**
 * One node's connection: memjs's Server (framing, SASL PLAIN, per-request timeouts) with the socket
 * opened here instead, for reasons memjs cannot be configured around:
 * - TLS: memjs only calls `net.connect`, and ElastiCache's in-transit encryption needs TLS;
 * - a connection the server closes (memcached restarted) must fail the requests still waiting on it at
 *   once — memjs forgets them, and their stale deadlines later kill the next healthy socket;
 * - a new connection must not inherit half a reply from the old one (memjs keeps its read buffer);
 * - a refused SASL login must be an Error we can recognise (memjs fails with a bare string), and
 *   credentials must come only from our options (memjs falls back to MEMCACHE_* environment variables).
 */
export class NodeConnection extends memjs.Server {
  private readonly tlsOptions: MemcachedTlsOptions | undefined;
  private readonly turn = new TurnCork();

  constructor(settings: ConnectionSettings) {
    super(settings.host, settings.port, settings.username, settings.password, { keepAlive: true, keepAliveDelay: 30 });
    const self = this as unknown as ServerInternals;
    self.username = settings.username;
    self.password = settings.password;
    this.tlsOptions = settings.tls;
    this.setTimeoutMs(settings.timeoutMs);
  }

  /** memjs counts in seconds; both the connect (with TLS and SASL) and each reply get this long. */
  setTimeoutMs(timeoutMs: number): void {
    const options = (this as unknown as ServerInternals).options;
    options.timeout = timeoutMs / 1000;
    options.conntimeout = timeoutMs / 1000;
  }

  override error(error: Error | string): void {
    // memjs reports a refused login as a plain string; everything else arrives as an Error.
    super.error(typeof error === "string" ? new AuthFailure(error) : error);
  }

  override sock(sasl: boolean, go: (socket: Socket) => void): void {
    const self = this as unknown as ServerInternals;
    const current = self._socket;
    if (current !== undefined) {
      if (!self.connected && !sasl) return self.onConnect(go); // still connecting or authenticating: queue
      // The requests of one turn of the event loop leave in one write (see TurnCork).
      if (!this.turn.active) this.turn.cork([current]);
      go(current);
      return;
    }
    self.connected = false;
    // memjs keeps unparsed bytes across connections: a reply cut off on the old socket would corrupt
    // the framing of the new one.
    self.responseBuffer = Buffer.alloc(0);
    const socket = this.tlsOptions
      ? tlsConnect({ host: this.host, port: this.port, servername: isIP(this.host) ? undefined : this.host, ...this.tlsOptions })
      : netConnect({ host: this.host, port: this.port });
    self._socket = socket;
    // While a reset connection is checked for TLS (below), its close and connect timeout wait for the verdict.
    let checkingTls = false;
    let answered = false;
    const mine = (): boolean => self._socket === socket && !checkingTls;

    socket.once(this.tlsOptions ? "secureConnect" : "connect", () => {
      // A connection that failed before logging in leaves its listener behind; only this socket counts.
      this.removeAllListeners("authenticated");
      this.once("authenticated", () => {
        if (!mine()) return;
        self.connected = true;
        socket.setTimeout(0); // the connect deadline is met; replies have their own
        self.timeoutSet = false;
        go(socket);
        const queued = self.connectCallbacks;
        self.connectCallbacks = [];
        for (const callback of queued) callback(socket);
      });
      if (self.username !== undefined && self.password !== undefined) self.listSasl();
      else this.emit("authenticated");
    });
    socket.on("data", (chunk: Buffer) => {
      answered = true;
      if (mine()) self.responseHandler(chunk);
    });
    socket.on("error", (error: NodeJS.ErrnoException) => {
      if (!mine()) return;
      if (this.tlsOptions !== undefined && isPlainReplyToTls(error)) return this.error(new TlsMismatchFailure("tls-to-plain", error));
      if (this.tlsOptions === undefined && !answered && (error.code === "ECONNRESET" || error.code === "EPIPE")) {
        // A TLS-only node resets a plain connection at its first bytes; ask it on a side connection
        // whether it speaks TLS before calling it down.
        checkingTls = true;
        void answersTls(this.host, this.port, self.options.conntimeout * 1000).then((tls) => {
          checkingTls = false;
          if (mine()) this.error(tls ? new TlsMismatchFailure("plain-to-tls", error) : error);
        });
        return;
      }
      this.error(error);
    });
    // The server's FIN ("end") already means this socket is done: forget it at once, so no request is
    // written into a connection that is closing.
    for (const event of ["end", "close"] as const) {
      socket.on(event, () => {
        if (mine()) this.error(new ConnectionClosed("the server closed the connection"));
      });
    }
    self.timeoutSet = true;
    socket.setTimeout(self.options.conntimeout * 1000, () => {
      if (mine() && !self.connected) this.error(new Error("socket timed out connecting to server."));
    });
    socket.setKeepAlive(true, 30_000);
  }
}
