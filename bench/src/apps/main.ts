// Entry of one app process: builds the app the runner asked for (BENCH_APP) and listens on loopback.
// Apps run in their own processes so the load generator never shares an event loop with them.
import { writeFileSync } from "node:fs";
import { startAllocationSampling, type SamplingNode } from "../alloc.js";
import { readAppConfig } from "../config.js";
import { createExpressApp } from "./express.js";
import { createFastifyApp } from "./fastify.js";
import { createKoaApp } from "./koa.js";

const config = readAppConfig(process.env);
const host = "127.0.0.1";

if (config.framework === "express") {
  const app = await createExpressApp(config);
  app.listen(config.port, host);
} else if (config.framework === "fastify") {
  const app = await createFastifyApp(config);
  await app.listen({ port: config.port, host });
} else {
  const app = await createKoaApp(config);
  app.listen(config.port, host);
}
// `profile … --alloc` (BENCH_ALLOC_FILE): SIGUSR2 starts sampling allocations (after the warm-up); SIGTERM
// writes them out before the process exits.
const allocFile = process.env.BENCH_ALLOC_FILE;
let stopSampling: (() => Promise<SamplingNode>) | undefined;
if (allocFile) process.on("SIGUSR2", () => void startAllocationSampling().then((stop) => (stopSampling = stop)));
process.on("SIGTERM", () => {
  if (stopSampling === undefined || !allocFile) process.exit(0);
  void stopSampling().then((head) => {
    writeFileSync(allocFile, JSON.stringify(head));
    process.exit(0);
  });
});
