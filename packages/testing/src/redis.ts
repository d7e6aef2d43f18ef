import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { connect, createServer, type Socket } from "node:net";
import { join } from "node:path";
import { Redis, type RedisOptions } from "ioredis";
import { launchOnFreePort, launchOnPort } from "./own-port.js";
import { freePort, startProcess, stopProcess, tempDir, type ManagedProcess } from "./process.js";

/**
 * Real redis-server processes on free loopback ports for tests, in the variants the store must
 * handle: plain, requirepass, an ACL user limited to a key pattern, TLS; plus a TCP listener that
 * accepts connections and never answers. Everything runs on 127.0.0.1 with its own directory and no
 * persistence; `stop()` / `kill()` end exactly the PID this harness started.
 */

export type RedisVariant =
  | { kind: "plain" }
  | { kind: "requirepass"; password: string }
  /**
   * An ACL user allowed only `keys` (e.g. `sess:*`) and `commands` (ACL rules such as `+get`; default
   * `+@all`); the default user is switched off.
   */
  | { kind: "acl"; username: string; password: string; keys: string; commands?: string[] }
  | { kind: "tls" };

export interface TlsFiles {
  /** Paths of the PEM files. */
  ca: string;
  cert: string;
  key: string;
  /** The CA certificate's PEM text, for the client's `tls.ca`. */
  caPem: string;
}

export interface RedisServer {
  readonly host: "127.0.0.1";
  readonly port: number;
  readonly variant: RedisVariant;
  /** A URL with the credentials of the variant (`redis://`, `rediss://`). */
  readonly url: string;
  /** Present for the TLS variant. */
  readonly tls: TlsFiles | undefined;
  readonly dir: string;
  readonly pid: number;
  output(): string;
  /** Runs one command on a short-lived admin connection (with the variant's credentials). */
  command(name: string, ...args: Array<string | number>): Promise<unknown>;
  /** SIGTERM and wait for exit; `restart` starts it again on the same port. */
  stop(): Promise<void>;
  /** SIGKILL and wait for exit (a crash). */
  kill(): Promise<void>;
  /** SIGSTOP: the process keeps its socket but answers nothing (a hung server). */
  pause(): void;
  /** SIGCONT after `pause`. */
  resume(): void;
  /** Starts the same server again on the same port (after stop or kill); PortTakenError if another process took the port meanwhile. */
  restart(): Promise<void>;
  /** Stops the server (if running) and removes its directory. */
  dispose(): Promise<void>;
}

const HOST = "127.0.0.1" as const;

/** Makes a CA and a server certificate for 127.0.0.1 / localhost with openssl, in `dir`. */
export function makeTlsFiles(dir: string): TlsFiles {
  const ca = join(dir, "ca.crt");
  const caKey = join(dir, "ca.key");
  const key = join(dir, "server.key");
  const csr = join(dir, "server.csr");
  const cert = join(dir, "server.crt");
  const ext = join(dir, "server.ext");
  const openssl = (...args: string[]) => execFileSync("openssl", args, { stdio: "pipe" });
  openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=sessionbridge test CA", "-keyout", caKey, "-out", ca);
  openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", key, "-out", csr);
  // clientAuth too: cluster nodes present this certificate to each other on the cluster bus, which
  // always demands a client certificate.
  writeFileSync(ext, "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n");
  openssl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", caKey, "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", cert);
  return { ca, cert, key, caPem: readFileSync(ca, "utf8") };
}

function variantArgs(variant: RedisVariant, port: number, tls: TlsFiles | undefined): string[] {
  switch (variant.kind) {
    case "plain":
      return ["--port", String(port)];
    case "requirepass":
      return ["--port", String(port), "--requirepass", variant.password];
    case "acl":
      return ["--port", String(port), "--user", variant.username, "on", `>${variant.password}`, `~${variant.keys}`, ...(variant.commands ?? ["+@all"]), "--user", "default", "off"];
    case "tls":
      // The default would demand client certificates; ElastiCache does not, and neither do we.
      return ["--port", "0", "--tls-port", String(port), "--tls-cert-file", tls!.cert, "--tls-key-file", tls!.key, "--tls-ca-cert-file", tls!.ca, "--tls-auth-clients", "no"];
  }
}

function variantUrl(variant: RedisVariant, port: number): string {
  switch (variant.kind) {
    case "plain":
      return `redis://${HOST}:${port}`;
    case "requirepass":
      return `redis://:${encodeURIComponent(variant.password)}@${HOST}:${port}`;
    case "acl":
      return `redis://${encodeURIComponent(variant.username)}:${encodeURIComponent(variant.password)}@${HOST}:${port}`;
    case "tls":
      return `rediss://${HOST}:${port}`;
  }
}

/**
 * Starts redis-server on a free loopback port (or on `port`, which must be free); call `dispose()` when
 * the test file is done. `args` are extra redis-server arguments (kept for `restart`), e.g.
 * `["--key-load-delay", "100"]`. Resolves only once this very process listens on the port (own-port.ts).
 */
export async function startRedis(variant: RedisVariant = { kind: "plain" }, options: { args?: string[]; port?: number } = {}): Promise<RedisServer> {
  const dir = tempDir("redis");
  // Certificates first: openssl takes a while, and a chosen port stays free only until someone binds it.
  const tls = variant.kind === "tls" ? makeTlsFiles(dir.path) : undefined;
  const start = (on: number) =>
    startProcess("redis-server", [...variantArgs(variant, on, tls), "--bind", HOST, "--save", "", "--appendonly", "no", "--dir", dir.path, "--daemonize", "no", "--loglevel", "warning", ...(options.args ?? [])]);
  let proc: ManagedProcess;
  let port: number;
  try {
    if (options.port === undefined) ({ port, process: proc } = await launchOnFreePort(start, { what: "redis-server" }));
    else proc = await launchOnPort(start, (port = options.port), { what: "redis-server" });
  } catch (error) {
    dir.remove();
    throw error;
  }
  const launch = async () => {
    proc = await launchOnPort(start, port, { what: "redis-server" });
  };
  const admin = (): Redis =>
    new Redis({
      host: HOST,
      port,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      ...(variant.kind === "requirepass" ? { password: variant.password } : {}),
      ...(variant.kind === "acl" ? { username: variant.username, password: variant.password } : {}),
      ...(tls ? { tls: { ca: tls.caPem } } : {}),
    });
  const server: RedisServer = {
    host: HOST,
    port,
    variant,
    url: variantUrl(variant, port),
    tls,
    dir: dir.path,
    get pid() {
      return proc.pid;
    },
    output: () => proc.output(),
    async command(name, ...commandArgs) {
      const client = admin();
      client.on("error", () => undefined);
      try {
        await client.connect();
        return await client.call(name, ...commandArgs);
      } finally {
        client.disconnect();
      }
    },
    stop: async () => {
      await proc.stop("SIGTERM");
    },
    kill: async () => {
      await proc.stop("SIGKILL");
    },
    pause: () => {
      stopProcess(proc.child.pid);
    },
    resume: () => {
      proc.child.kill("SIGCONT");
    },
    restart: async () => {
      if (proc.child.exitCode === null && proc.child.signalCode === null) await proc.stop("SIGTERM");
      await launch();
    },
    dispose: async () => {
      proc.child.kill("SIGCONT"); // a paused server cannot act on SIGTERM
      await proc.stop("SIGTERM");
      dir.remove();
    },
  };
  return server;
}

/**
 * An ioredis client as a test makes one (a caller's own client, a raw look at the server), with an
 * 'error' listener like every client in these tests: ioredis prints an error nobody listens to as
 * "Unhandled error event", and the suite fails on that line (vitest.unhandled-client-errors.ts).
 */
export function testClient(options: RedisOptions | string): Redis {
  const client = typeof options === "string" ? new Redis(options) : new Redis(options);
  client.on("error", () => undefined);
  return client;
}

/** A TCP listener that accepts connections and never answers a byte: the hung-server case. */
export interface HangListener {
  readonly port: number;
  readonly url: string;
  /** How many connections it has accepted so far. */
  connections(): number;
  close(): Promise<void>;
}

export async function startHangListener(): Promise<HangListener> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server = createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on("error", () => undefined);
    socket.on("close", () => sockets.delete(socket));
    // Read and discard: the peer's writes succeed, its commands are never answered.
    socket.resume();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, HOST, () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    port,
    url: `redis://${HOST}:${port}`,
    connections: () => accepted,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * A TCP forwarder whose target can be switched, like a DNS name (ElastiCache's primary endpoint) that
 * moves to a new primary after a failover: existing connections stay where they were, new ones go to
 * the new target.
 */
export interface SwitchableProxy {
  readonly port: number;
  readonly url: string;
  setTarget(port: number): void;
  close(): Promise<void>;
}

export async function startProxy(targetPort: number): Promise<SwitchableProxy> {
  let target = targetPort;
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
  };
  const server = createServer((inbound) => {
    track(inbound);
    const outbound = connect({ host: HOST, port: target });
    track(outbound);
    inbound.pipe(outbound);
    outbound.pipe(inbound);
    inbound.on("close", () => outbound.destroy());
    outbound.on("close", () => inbound.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, HOST, () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    port,
    url: `redis://${HOST}:${port}`,
    setTarget: (next) => {
      target = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A loopback port on which nothing listens (connections are refused). */
export async function refusedPort(): Promise<number> {
  return freePort();
}
