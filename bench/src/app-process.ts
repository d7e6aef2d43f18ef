import { fileURLToPath } from "node:url";
import { launchOnFreePort, startProcess, type ManagedProcess } from "@sessionbridge/testing";
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
  // tsx compiles the TypeScript once at load; the measured code then runs as plain JavaScript.
  const start = (port: number) => {
    const config: AppConfig = { framework, store, port, ...targets };
    return startProcess(process.execPath, [...nodeArgs, "--import", "tsx", MAIN], {
      env: { ...process.env, NODE_ENV: "production", BENCH_APP: JSON.stringify(config) },
    });
  };
  const { port, process: child } = await launchOnFreePort(start, { what: `${framework}/${store} app`, timeoutMs: 30_000 });
  return { url: `http://127.0.0.1:${port}`, process: child, stop: () => child.stop() };
}
