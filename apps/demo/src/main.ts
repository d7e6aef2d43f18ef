// `pnpm demo`: starts the session store (unless SESSION_STORE_URL names one), one instance per
// framework and the balancer in front; Ctrl-C stops every process it started.
import { isSessionStoreError } from "@sessionbridge/core";
import { startDemo } from "./demo.js";
import { readSettings } from "./settings.js";

const log = (line: string) => process.stdout.write(`[demo] ${line}\n`);

try {
  const demo = await startDemo(readSettings(), { log });
  log(`balancer: round robin over ${demo.instances.map((i) => i.name).join(", ")}`);
  log("");
  log(`open ${demo.url}`);
  log("Ctrl-C stops everything");
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping`);
    await demo.close();
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
} catch (error) {
  const message = isSessionStoreError(error) || error instanceof Error ? error.message : String(error);
  log(`could not start: ${message}`);
  process.exit(1);
}
