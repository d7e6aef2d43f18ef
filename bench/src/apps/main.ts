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
const allocFile = process.env.BENCH_ALLOC_FILE;
if (allocFile) {
  // `profile … --alloc`: SIGUSR2 starts sampling allocations (after the warm-up); SIGTERM writes them out.
  let stop: (() => Promise<SamplingNode>) | undefined;
  process.on("SIGUSR2", () => void startAllocationSampling().then((stopper) => (stop = stopper)));
  process.on("SIGTERM", () => {
    if (stop === undefined) process.exit(0);
    void stop().then((head) => {
      writeFileSync(allocFile, JSON.stringify(head));
      process.exit(0);
    });
  });
} else {
  process.on("SIGTERM", () => process.exit(0));
}
