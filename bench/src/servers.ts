import { execFileSync } from "node:child_process";
import { launchOnFreePort, launchOnPort, startProcess, tempDir, type ManagedProcess } from "@sessionbridge/testing";

/** A server the bench started on a free loopback port; `stop` ends exactly that process. */
export interface BenchServer {
  readonly port: number;
  readonly process: ManagedProcess;
  stop(): Promise<void>;
}

/**
 * A plain redis-server: no persistence, its own directory. Every row talks to this one process, so
 * they share the same server and its CPU budget. A given `port` restarts a server where one stood.
 */
export async function startRedis(port?: number): Promise<BenchServer> {
  const dir = tempDir("bench-redis");
  const start = (on: number) => startProcess("redis-server", ["--port", String(on), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir.path]);
  // Listening by this very process, not just "something answers there" (see own-port.ts in the testing package).
  const { port: chosen, process } = port === undefined ? await launchOnFreePort(start, { what: "redis-server" }) : { port, process: await launchOnPort(start, port, { what: "redis-server" }) };
  return {
    port: chosen,
    process,
    async stop() {
      await process.stop();
      dir.remove();
    },
  };
}

/** A plain memcached (binary and text protocol, 256 MB, UDP off). */
export async function startMemcached(): Promise<BenchServer> {
  const userArgs = globalThis.process.getuid?.() === 0 ? ["-u", "root"] : [];
  const start = (port: number) => startProcess("memcached", ["-l", "127.0.0.1", "-p", String(port), "-U", "0", "-m", "256", ...userArgs]);
  const { port, process } = await launchOnFreePort(start, { what: "memcached" });
  return { port, process, stop: () => process.stop() };
}

export function redisServerVersion(): string {
  return /v=(\S+)/.exec(execFileSync("redis-server", ["--version"], { encoding: "utf8" }))?.[1] ?? "unknown";
}

export function memcachedVersion(): string {
  return execFileSync("memcached", ["-V"], { encoding: "utf8" }).trim().replace(/^memcached\s+/, "");
}
