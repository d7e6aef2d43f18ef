#!/usr/bin/env node
// `npm test`'s last step: the core contract suites and the three adapters' tests once more on Node 24
// (the suite's main run uses the machine's Node, 20 or newer). Node 24 comes from the `node` package
// through npx, so nothing is installed system-wide. SESSIONBRIDGE_SKIP_NODE24=1 skips it (local runs).
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const log = (message) => process.stdout.write(`[sessionbridge] ${message}\n`);

// What runs on Node 24: package directory → test files (none: all of that package's tests).
const SUITES = [
  ["packages/testing", ["test/memory.contract.test.ts", "test/redis.contract.test.ts", "test/memcached.contract.test.ts"]],
  ["packages/express", []],
  ["packages/fastify", []],
  ["packages/koa", []],
];

if (process.env.SESSIONBRIDGE_SKIP_NODE24) {
  log("Node 24 step skipped (SESSIONBRIDGE_SKIP_NODE24 is set)");
  process.exit(0);
}

const found = spawnSync("npx", ["-y", "node@24", "-p", "process.version + ' ' + process.execPath"], { cwd: root, encoding: "utf8" });
const [version, node24] = (found.stdout ?? "").trim().split(" ");
if (found.status !== 0 || !version?.startsWith("v24.") || !node24) {
  log(`could not get Node 24 through "npx -y node@24" (${(found.stderr ?? found.error?.message ?? "").trim().split("\n").pop()})`);
  log("run with SESSIONBRIDGE_SKIP_NODE24=1 to skip the Node 24 step");
  process.exit(1);
}
log(`Node 24 step: ${version} — core contract suites and the express, fastify and koa tests`);

const vitest = join(root, "node_modules", "vitest", "vitest.mjs");
// Node 24 first on PATH, so processes the tests start with "node" run on it too.
const env = { ...process.env, PATH: `${dirname(node24)}:${process.env.PATH}` };
for (const [dir, files] of SUITES) {
  const started = Date.now();
  const result = spawnSync(node24, [vitest, "run", ...files], { cwd: join(root, dir), env, stdio: "inherit" });
  if (result.status !== 0) {
    log(`Node 24: ${dir} failed`);
    process.exit(result.status ?? 1);
  }
  log(`Node 24: ${dir} passed in ${Math.round((Date.now() - started) / 1000)} s`);
}
