/**
 * Runs the test suites of express-session, @fastify/session and koa-session with sessionbridge's store in
 * place of their own, on a real redis-server. docs/drop-in.md has the results, why each failing test
 * fails, and why this is not part of CI (the suites come from GitHub checkouts).
 *
 *   pnpm exec turbo run build            # the adapters are used from their dist/
 *   pnpm exec tsx packages/testing/dropin/run.ts <suite> <checkout>
 *
 * <suite>: express-session | fastify-session | koa-session; <checkout>: a checkout of the framework's own
 * repository (github.com/expressjs/session, fastify/session, koajs/session), which npm packages lack the
 * tests of. The checkout is copied to $TMPDIR/sessionbridge-dropin/<suite> (reused by later runs, so its
 * `npm install` happens once; delete it to start over); the copy's store files are replaced by the
 * shims in ./shims/<suite>/ and its node_modules get our packages (core linked, the adapter copied so
 * that it resolves the framework under test, not the workspace's copy). The full output goes to
 * <copy>/dropin.log; the summary line is printed.
 */
import { execFileSync, spawn } from "node:child_process";
import { cpSync, createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { startRedis } from "../src/redis.js";

interface Suite {
  /** The framework's package name, linked to the checkout so our adapter's dist resolves it. */
  framework: string;
  /** Our adapter package (directory name under packages/). */
  adapter: string;
  /** Run before the tests, in the copy. */
  prepare?: string[][];
  /** The test command, in the copy. */
  test: string[];
}

const SUITES: Record<string, Suite> = {
  "express-session": {
    framework: "express-session",
    adapter: "express",
    prepare: [["sh", "test/support/gencert.sh"]],
    // As the package's own `npm test`, with --exit: our store holds Redis connections open.
    test: ["npx", "mocha", "--require", "test/support/env", "--check-leaks", "--exit", "--reporter", "spec", "test/"],
  },
  "fastify-session": {
    framework: "@fastify/session",
    adapter: "fastify",
    // As the package's own `test:unit`, without the coverage gate.
    test: ["node", "--test", "--test-reporter=spec"],
  },
  "koa-session": {
    framework: "koa-session",
    adapter: "koa",
    test: ["npx", "egg-bin", "test"],
  },
};

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "../../..");
const [name, checkout] = process.argv.slice(2);
const suite = name === undefined ? undefined : SUITES[name];
if (suite === undefined || checkout === undefined) {
  console.error(`usage: tsx packages/testing/dropin/run.ts <${Object.keys(SUITES).join(" | ")}> <checkout of the framework's repository>`);
  process.exit(2);
}
const adapterDist = join(repo, "packages", suite.adapter, "dist");
if (!existsSync(join(repo, "packages/core/dist")) || !existsSync(adapterDist)) {
  console.error("build first: pnpm exec turbo run build");
  process.exit(2);
}

const copy = join(process.env.SESSIONBRIDGE_DROPIN_DIR ?? join(tmpdir(), "sessionbridge-dropin"), name as string);
const run = (command: string[], options: { env?: NodeJS.ProcessEnv } = {}) => execFileSync(command[0] as string, command.slice(1), { cwd: copy, stdio: "inherit", env: { ...process.env, ...options.env } });

// 1. A copy of the checkout with its own dependencies (installed once).
mkdirSync(copy, { recursive: true });
for (const entry of readdirSync(resolve(checkout))) {
  if (entry === "node_modules" || entry === ".git") continue;
  cpSync(join(resolve(checkout), entry), join(copy, entry), { recursive: true });
}
if (!existsSync(join(copy, "node_modules"))) run(["npm", "install", "--no-audit", "--no-fund", "--ignore-scripts"]);

// 2. Our packages in its node_modules: core linked (its own dependencies resolve in the workspace), the
//    adapter copied (so `require("<framework>")` in it finds the checkout), the framework linked to the checkout.
const modules = join(copy, "node_modules");
const place = (target: string, link: string) => {
  rmSync(link, { recursive: true, force: true });
  mkdirSync(dirname(link), { recursive: true });
  symlinkSync(target, link);
};
place(join(repo, "packages/core"), join(modules, "@sessionbridge/core"));
place(copy, join(modules, suite.framework));
const adapterCopy = join(modules, "@sessionbridge", suite.adapter);
rmSync(adapterCopy, { recursive: true, force: true });
cpSync(join(repo, "packages", suite.adapter, "package.json"), join(adapterCopy, "package.json"));
cpSync(adapterDist, join(adapterCopy, "dist"), { recursive: true });
// The adapter's own dependencies (not its peers: those are the suite's) from the workspace.
const adapterPackage = JSON.parse(readFileSync(join(repo, "packages", suite.adapter, "package.json"), "utf8")) as { dependencies?: Record<string, string> };
for (const dependency of Object.keys(adapterPackage.dependencies ?? {})) {
  if (dependency === "@sessionbridge/core") continue;
  place(realpathSync(join(repo, "packages", suite.adapter, "node_modules", dependency)), join(adapterCopy, "node_modules", dependency));
}

// 3. The shims: the suite's test stores become ours.
cpSync(join(here, "shims", name as string), copy, { recursive: true });

// 4. A real Redis for the run.
const redis = await startRedis();
const log = join(copy, "dropin.log");
try {
  for (const step of suite.prepare ?? []) run(step);
  const out = createWriteStream(log);
  const code = await new Promise<number>((done) => {
    const child = spawn(suite.test[0] as string, suite.test.slice(1), { cwd: copy, env: { ...process.env, SESSIONBRIDGE_DROPIN_URL: redis.url, NODE_ENV: "test" }, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.pipe(out, { end: false });
    child.stderr.pipe(out, { end: false });
    child.stdout.pipe(process.stdout);
    child.stderr.pipe(process.stderr);
    child.on("close", (status) => done(status ?? 1));
  });
  out.end();
  writeFileSync(join(copy, "dropin.exit"), `${code}\n`);
  console.log(`\n${name}: exit ${code}; full output in ${log}`);
} finally {
  await redis.dispose();
}
