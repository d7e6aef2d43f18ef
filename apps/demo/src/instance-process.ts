// Entry point of one instance child process (started by demo.ts). It shares nothing with its siblings
// but the session store named in SESSION_STORE_URL.
import type { CookieSettings } from "./cookie.js";
import { COOKIE_NAME } from "./cookie.js";
import type { Framework } from "./instance-info.js";
import { openCatalogue } from "./catalogue/open.js";
import { openStore, startInstance } from "./instance.js";
import { answerMetricsOverIpc } from "./operations/ipc-metrics.js";
import { startProcessMetrics } from "./operations/process-metrics.js";
import { readSettings } from "./settings.js";

const settings = readSettings(process.env);
const name = process.env.DEMO_INSTANCE_NAME ?? "instance";
const framework = process.env.DEMO_FRAMEWORK as Framework;
if (settings.storeUrl === undefined) throw new Error("an instance process needs SESSION_STORE_URL");
if (settings.databaseUrl === undefined) throw new Error("an instance process needs DATABASE_URL");

// Before the store exists, so its every operation is counted; the balancer scrapes it over IPC.
const metrics = startProcessMetrics();
answerMetricsOverIpc(metrics);
const store = openStore(settings.storeUrl, settings.ttlMs, settings.timeoutMs);
store.on("unavailable", () => console.error(`[${name}] session store unavailable; requests get a 503 until it is back`));
store.on("available", () => console.error(`[${name}] session store available again`));
store.on("error", (error) => console.error(`[${name}] ${error.message}`));

// Installed before anything starts: a stop requested while this instance is still starting (Ctrl-C
// early, the parent gone) must end it quietly too.
let running: Awaited<ReturnType<typeof startInstance>> | undefined;
let stopping = false;
async function shutdown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await running?.close().catch(() => undefined);
  await store.close();
  await metrics.close().catch(() => undefined);
  process.exit(0);
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
// The parent is gone (even killed with SIGKILL): do not linger as an orphan.
process.on("disconnect", shutdown);

const cookie: CookieSettings = { name: COOKIE_NAME, secret: settings.secret, ttlMs: settings.ttlMs };
running = await startInstance(name, framework, store, cookie, 0, openCatalogue(settings.databaseUrl, settings.storeUrl, name, settings.timeoutMs));
if (stopping || !process.connected) {
  // Stopped (or orphaned) while starting: there is nobody to report to.
  await shutdown();
} else {
  // With a callback, a channel that closes meanwhile is reported here instead of as an
  // ERR_IPC_CHANNEL_CLOSED 'error' event (a stack on the console); the 'disconnect' handler stops us.
  process.send?.({ type: "ready", info: running.info }, undefined, {}, () => undefined);
}
