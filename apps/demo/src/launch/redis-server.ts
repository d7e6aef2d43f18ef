import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, waitForPort } from "./ports.js";
import { stopChild } from "./stop-child.js";

export interface PrivateRedis {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** True when a `redis-server` binary is on PATH. */
export function redisServerInstalled(): boolean {
  const probe = spawnSync("redis-server", ["--version"], { stdio: "ignore" });
  return probe.error === undefined && probe.status === 0;
}

/**
 * Starts a throwaway redis-server on a free loopback port: no persistence, its own temp directory,
 * stopped by PID. The demo uses it when no SESSION_STORE_URL is given.
 */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  let lastError: unknown;
  // The port is free when chosen but another process could take it before redis binds: retry.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), "sessionbridge-demo-redis-"));
    const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--loglevel", "warning"], { stdio: ["ignore", "ignore", "pipe"] });
    const exited = new Promise<void>((resolve) => {
      child.once("exit", () => resolve());
      child.once("error", () => resolve()); // e.g. ENOENT: never started
    });
    let gone = false;
    void exited.then(() => (gone = true));
    try {
      await waitForPort(port, 10_000, () => gone);
      return { url: `redis://127.0.0.1:${port}`, pid: child.pid ?? -1, stop: () => stop(child, exited, dir) };
    } catch (error) {
      lastError = error;
      await stop(child, exited, dir);
    }
  }
  throw new Error(`could not start redis-server: ${lastError instanceof Error ? lastError.message : String(lastError)}`);
}

async function stop(child: ChildProcess, exited: Promise<void>, dir: string): Promise<void> {
  await stopChild(child, exited);
  rmSync(dir, { recursive: true, force: true });
}
