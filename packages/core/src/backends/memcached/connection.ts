import memjs from "memjs";
import { isIP, connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { answersTls, isPlainReplyToTls, type TlsMismatch } from "../tls-mismatch.js";
import { TurnCork } from "../turn-cork.js";
import type { Reply } from "./commands.js";
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
  /** One deadline per request written, oldest first; each reply takes one off. */
  requestTimeouts: number[];
  username: string | undefined;
  password: string | undefined;
  options: { timeout: number; conntimeout: number };
  listSasl(): void;
  saslAuth(): void;
  onConnect(go: (socket: Socket) => void): void;
  /** Writes a request when the socket is ready and starts its reply deadline. */
  write(request: Buffer): void;
}

/** A request waiting for its reply. */
export interface Pending {
  resolve(reply: Reply): void;
  reject(error: Error): void;
}

const HEADER_BYTES = 24;
const SASL_LIST_MECHS = 0x20;
const SASL_AUTH = 0x21;
const STATUS_AUTH_ERROR = 0x20;
const NOTHING = Buffer.alloc(0);

export interface ConnectionSettings {
  host: string;
  port: number;
  username: string | undefined;
  password: string | undefined;
  tls: MemcachedTlsOptions | undefined;
  timeoutMs: number;
}

/**
 * One node's connection: memjs's Server (SASL PLAIN, per-request timeouts) with the socket opened and
 * the replies read here instead (requests are framed in commands.ts), for reasons memjs cannot be
 * configured around:
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
  /** Requests written and not answered, by opaque (the number the server echoes in its reply). */
  private pending = new Map<number, Pending>();
  private lastOpaque = 0;

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

  /** The number to tag the next request with (32 bits, never 0, which SASL requests use). */
  nextOpaque(): number {
    this.lastOpaque = this.lastOpaque === 0xffffffff ? 1 : this.lastOpaque + 1;
    return this.lastOpaque;
  }

  /** Writes one framed request (see commands.ts); `pending` learns its reply, or the failure of the connection. */
  dispatch(opaque: number, request: Buffer, pending: Pending): void {
    this.pending.set(opaque, pending);
    (this as unknown as ServerInternals).write(request); // memjs: waits for the connection, starts the reply's deadline
  }

  override error(error: Error | string): void {
    // memjs reports a refused login as a plain string; everything else arrives as an Error.
    const failure = typeof error === "string" ? new AuthFailure(error) : error;
    const waiting = this.pending;
    this.pending = new Map();
    super.error(failure); // closes the socket, forgets its deadlines
    for (const request of waiting.values()) request.reject(failure);
  }

  /**
   * Replaces memjs's reply parser, which copies everything received so far into a new buffer on every
   * chunk, builds a header object and slices the rest after each reply: replies are read in place from
   * the chunk, and only an incomplete tail is kept.
   */
  responseHandler(chunk: Buffer): void {
    const self = this as unknown as ServerInternals;
    const buffer = self.responseBuffer.length === 0 ? chunk : Buffer.concat([self.responseBuffer, chunk]);
    let offset = 0;
    while (buffer.length - offset >= HEADER_BYTES) {
      const end = offset + HEADER_BYTES + buffer.readUInt32BE(offset + 8);
      if (buffer.length < end) break;
      const opcode = buffer[offset + 1];
      const status = buffer.readUInt16BE(offset + 6);
      if (opcode === SASL_LIST_MECHS) self.saslAuth();
      else if (status === STATUS_AUTH_ERROR) this.error("Memcached server authentication failed!");
      else if (opcode === SASL_AUTH) this.emit("authenticated");
      else this.answer(buffer, offset, end, status);
      offset = end;
    }
    self.responseBuffer = offset === buffer.length ? NOTHING : buffer.subarray(offset);
  }

  /** Hands the reply in `buffer[offset, end)` to the request that carried its opaque. */
  private answer(buffer: Buffer, offset: number, end: number, status: number): void {
    const opaque = buffer.readUInt32BE(offset + 12);
    const request = this.pending.get(opaque);
    if (request === undefined) return; // its connection failed meanwhile
    this.pending.delete(opaque);
    (this as unknown as ServerInternals).requestTimeouts.shift();
    const valueStart = Math.min(end, offset + HEADER_BYTES + (buffer[offset + 4] as number) + buffer.readUInt16BE(offset + 2));
    request.resolve({ status, value: buffer.subarray(valueStart, end), cas: buffer.subarray(offset + 16, offset + HEADER_BYTES) });
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
    self.responseBuffer = NOTHING;
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
      if (mine()) this.responseHandler(chunk);
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
