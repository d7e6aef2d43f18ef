import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { claimPort, PORT_CLAIMS_DIR } from "./port-claims.js";

/**
 * A TCP port on loopback that nothing listens on and that no live test process has been given before
 * (see port-claims.ts: a stopped server's port stays its own until its process exits).
 */
export async function freePort(): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    const port = await kernelFreePort();
    if (claimPort(port)) return port;
    if (attempt >= 100) throw new Error(`found no unclaimed free port in 100 picks (claims are in ${PORT_CLAIMS_DIR})`);
  }
}

/** A port nothing listens on now, chosen by the kernel. */
function kernelFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** A fresh temporary directory, removed by the returned cleanup. */
export function tempDir(label: string): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), `sessionbridge-${label}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Resolves once something accepts TCP connections on the port, or rejects after `timeoutMs`. */
export async function waitForPort(port: number, timeoutMs = 10_000, host = "127.0.0.1"): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect({ port, host });
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nothing listened on ${host}:${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A server process this harness started; `stop` kills exactly that PID and waits for it to exit. */
export interface ManagedProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  output(): string;
  /** SIGTERM (or the given signal), then waits for exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  exited: Promise<number | null>;
}

const running = new Set<ManagedProcess>();
process.once("exit", () => {
  for (const managed of running) managed.child.kill("SIGKILL");
});

export function startProcess(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): ManagedProcess {
  const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  const append = (chunk: Buffer) => {
    log += chunk.toString("utf8");
    if (log.length > 64_000) log = log.slice(-32_000);
  };
  child.stdout?.on("data", append);
  child.stderr?.on("data", append);
  const exited = new Promise<number | null>((resolve) => {
    child.once("exit", (code) => resolve(code));
    child.once("error", () => resolve(null));
  });
  const managed: ManagedProcess = {
    child,
    pid: child.pid ?? -1,
    output: () => log,
    exited,
    async stop(signal = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
      running.delete(managed);
    },
  };
  running.add(managed);
  void exited.then(() => running.delete(managed));
  return managed;
}

/**
 * SIGSTOP, and return only once the kernel reports the process stopped: the signal is delivered
 * asynchronously, so a request sent right after `kill` could still be answered by a server that was
 * about to stop (seen once in CI). Bounded: gives up after 2 s.
 */
export function stopProcess(pid: number | undefined): void {
  if (pid === undefined) return;
  process.kill(pid, "SIGSTOP");
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let waited = 0; waited < 2000; waited++) {
    const state = processState(pid);
    if (state === undefined || state === "T" || state === "t") return;
    Atomics.wait(pause, 0, 0, 1); // 1 ms
  }
}

/** The state letter of /proc/<pid>/stat (R running, S sleeping, T stopped…), or undefined when gone. */
function processState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  } catch {
    return undefined;
  }
}
