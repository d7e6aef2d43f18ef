import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { freePort, waitForPort, type ManagedProcess } from "./process.js";

/**
 * Starting a server on a port and knowing that what answers there is that server. A port `freePort`
 * found free stays free only until someone binds it: another test file (or another run on the same
 * machine) can take it before our server does. Ours then exits with "Address already in use" while the
 * other one answers — and a harness that only waits for "something accepts connections" hands the
 * test a foreign server. That is how a whole TLS contract block once failed with
 * UNABLE_TO_VERIFY_LEAF_SIGNATURE: its client was talking to a concurrent file's memcached -Z.
 * So the harness waits until its own process holds the listening socket (the kernel's socket table
 * and the process's descriptors say so), and picks another port when someone else got there first.
 */

/** The port was taken by another process before ours could listen on it. */
export class PortTakenError extends Error {
  constructor(
    readonly port: number,
    what: string,
    output: string,
  ) {
    super(`${what}: port ${port} is in use by another process (it was free when chosen; someone bound it first):\n${output.slice(-2000)}`);
    this.name = "PortTakenError";
  }
}

/** Inodes of the sockets listening on `port` (any local address), from /proc/net/tcp and tcp6; undefined without /proc. */
function listeningInodes(port: number): string[] | undefined {
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  const inodes: string[] = [];
  let readable = false;
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = readFileSync(table, "utf8");
    } catch {
      continue;
    }
    readable = true;
    for (const line of text.split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      // fields[1] is "<address>:<port>" in hex, fields[3] the state (0A: LISTEN), fields[9] the inode.
      if (fields[1]?.endsWith(`:${hexPort}`) && fields[3] === "0A" && fields[9] !== undefined) inodes.push(fields[9]);
    }
  }
  return readable ? inodes : undefined;
}

/** True when one of `inodes` is a socket among the descriptors of process `pid`. */
function ownsSocket(pid: number, inodes: string[]): boolean {
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return false;
  }
  return fds.some((fd) => {
    try {
      return inodes.includes(/^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1] ?? "");
    } catch {
      return false;
    }
  });
}

const exited = (proc: ManagedProcess): boolean => proc.child.exitCode !== null || proc.child.signalCode !== null;

/**
 * Resolves once `proc` itself listens on every one of `ports` (127.0.0.1 or any address). Rejects with
 * PortTakenError when another process holds one of them (or ours exited saying the address is in use),
 * with a plain Error when ours exited for another reason or did not listen within `timeoutMs`.
 */
export async function waitForOwnPorts(proc: ManagedProcess, ports: number[], what: string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const tables = ports.map((port) => ({ port, inodes: listeningInodes(port) }));
    if (tables.some((table) => table.inodes === undefined)) {
      // No /proc (not Linux): the best we can do is "something answers" while our process lives.
      await Promise.race([Promise.all(ports.map((port) => waitForPort(port, timeoutMs))), proc.exited.then(() => undefined)]);
      if (exited(proc)) throw new Error(`${what} exited before listening:\n${proc.output().slice(-2000)}`);
      return;
    }
    const foreign = tables.find((table) => table.inodes!.length > 0 && !ownsSocket(proc.pid, table.inodes!));
    if (tables.every((table) => table.inodes!.length > 0) && foreign === undefined) return;
    if (exited(proc)) {
      // Ours gave up: say whether a port was taken (then another one will do) or it failed otherwise.
      const taken = foreign ?? tables.find((table) => table.inodes!.length > 0);
      if (taken !== undefined || /address already in use/i.test(proc.output())) throw new PortTakenError(taken?.port ?? ports[0]!, what, proc.output());
      throw new Error(`${what} exited before listening on ${ports.join(", ")}:\n${proc.output().slice(-2000)}`);
    }
    if (Date.now() > until) {
      if (foreign !== undefined) throw new PortTakenError(foreign.port, what, proc.output());
      throw new Error(`${what} did not listen on ${ports.join(", ")} within ${timeoutMs} ms:\n${proc.output().slice(-2000)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export interface PortLaunchOptions {
  /** For messages: "redis-server", "memcached"… */
  what: string;
  /** Further ports the process must hold, from its main port (a cluster node's bus port: port + 10000). */
  alsoPorts?: (port: number) => number[];
  timeoutMs?: number;
}

/**
 * Starts `start(port)` and waits until that process listens on `port` itself. A port someone else took
 * is a PortTakenError (the process is stopped); so is any other start failure, as a plain Error.
 */
export async function launchOnPort(start: (port: number) => ManagedProcess, port: number, options: PortLaunchOptions): Promise<ManagedProcess> {
  const proc = start(port);
  try {
    await waitForOwnPorts(proc, [port, ...(options.alsoPorts?.(port) ?? [])], options.what, options.timeoutMs);
  } catch (error) {
    await proc.stop("SIGKILL");
    throw error;
  }
  return proc;
}

/**
 * Starts `start(port)` on a port from `freePort` (or `pickPort`), and on another one when the chosen
 * port was taken before the process could bind it (at most `attempts` ports). Any other start failure
 * is thrown at once.
 */
export async function launchOnFreePort(
  start: (port: number) => ManagedProcess,
  options: PortLaunchOptions & { attempts?: number; pickPort?: () => Promise<number> },
): Promise<{ port: number; process: ManagedProcess }> {
  const attempts = options.attempts ?? 5;
  for (let attempt = 1; ; attempt++) {
    const port = await (options.pickPort ?? freePort)();
    try {
      return { port, process: await launchOnPort(start, port, options) };
    } catch (error) {
      if (!(error instanceof PortTakenError) || attempt >= attempts) throw error;
    }
  }
}
