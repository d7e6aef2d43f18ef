import { execFileSync } from "node:child_process";
import { freePort, startProcess, tempDir, waitForPort, type ManagedProcess } from "@sessionbridge/testing";

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
  const chosen = port ?? (await freePort());
  const dir = tempDir("bench-redis");
  const process = startProcess("redis-server", ["--port", String(chosen), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir.path]);
  await waitForPort(chosen);
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
  const port = await freePort();
  const userArgs = globalThis.process.getuid?.() === 0 ? ["-u", "root"] : [];
  const process = startProcess("memcached", ["-l", "127.0.0.1", "-p", String(port), "-U", "0", "-m", "256", ...userArgs]);
  await waitForPort(port);
  return { port, process, stop: () => process.stop() };
}

export function redisServerVersion(): string {
  return /v=(\S+)/.exec(execFileSync("redis-server", ["--version"], { encoding: "utf8" }))?.[1] ?? "unknown";
}

export function memcachedVersion(): string {
  return execFileSync("memcached", ["-V"], { encoding: "utf8" }).trim().replace(/^memcached\s+/, "");
}
