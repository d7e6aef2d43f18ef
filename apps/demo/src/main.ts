// `pnpm demo`: starts the session store (unless SESSION_STORE_URL names one), one instance per
// framework and the balancer in front; Ctrl-C stops every process it started, at any moment.
import { isSessionStoreError } from "@sessionbridge/core";
import { startDemo, type RunningDemo } from "./demo.js";
import { readSettings } from "./settings.js";

const log = (line: string) => process.stdout.write(`[demo] ${line}\n`);

// Listening from the first moment: a Ctrl-C while the demo is still starting (redis-server up, the
// instances loading) must stop what has started, not kill this process and leave its children behind.
const starting = new AbortController();
let demo: RunningDemo | undefined;
let stopping = false;
const stop = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  log(`${signal}: stopping`);
  if (demo === undefined) {
    starting.abort(); // startDemo stops what it started, then rejects: the catch below exits
    return;
  }
  await demo.close();
  process.exit(0);
};
process.on("SIGINT", () => void stop("SIGINT"));
process.on("SIGTERM", () => void stop("SIGTERM"));

try {
  demo = await startDemo(readSettings(), { log, signal: starting.signal });
  log(`balancer: round robin over ${demo.instances.map((i) => i.name).join(", ")}`);
  log("");
  log(`open ${demo.url}`);
  log("Ctrl-C stops everything");
} catch (error) {
  if (starting.signal.aborted) process.exit(0);
  const message = isSessionStoreError(error) || error instanceof Error ? error.message : String(error);
  log(`could not start: ${message}`);
  process.exit(1);
}
