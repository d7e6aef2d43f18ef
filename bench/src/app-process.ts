import { fileURLToPath } from "node:url";
import { freePort, startProcess, waitForPort, type ManagedProcess } from "@sessionbridge/testing";
import type { AppConfig, Framework, StoreKind } from "./config.js";

const MAIN = fileURLToPath(new URL("./apps/main.ts", import.meta.url));

/** An app server in its own process (so it never shares an event loop with the load generator). */
export interface AppProcess {
  readonly url: string;
  readonly process: ManagedProcess;
  stop(): Promise<void>;
}

export interface AppTargets {
  redisUrl: string;
  memcachedServer: string;
  timeoutMs: number;
}

/** `nodeArgs` go before the entry point, e.g. `--cpu-prof` for the profiler (src/profile.ts). */
export async function startApp(framework: Framework, store: StoreKind, targets: AppTargets, nodeArgs: string[] = []): Promise<AppProcess> {
  const port = await freePort();
  const config: AppConfig = { framework, store, port, ...targets };
  // tsx compiles the TypeScript once at load; the measured code then runs as plain JavaScript.
  const child = startProcess(process.execPath, [...nodeArgs, "--import", "tsx", MAIN], {
    env: { ...process.env, NODE_ENV: "production", BENCH_APP: JSON.stringify(config) },
  });
  const failed = child.exited.then((code) => {
    throw new Error(`${framework}/${store} app exited (${code}) before listening:\n${child.output().slice(-2000)}`);
  });
  await Promise.race([waitForPort(port, 30_000), failed]);
  failed.catch(() => undefined);
  return { url: `http://127.0.0.1:${port}`, process: child, stop: () => child.stop() };
}
