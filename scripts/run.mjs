#!/usr/bin/env node
// One entry point for the README's commands: `npm test`, `npm run demo`, `npm run bench`.
// On a fresh Debian machine with only Node 20 and npm it installs what is missing (Debian packages when
// it may, pnpm into .tools/), installs the workspace, builds, then runs the task.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const task = process.argv[2] ?? "test";
const PNPM_VERSION = "10.34.9";

// What each task needs from Debian, by the binary that proves it is there.
const NEEDS = {
  test: { "redis-server": "redis-server", "redis-sentinel": "redis-sentinel", "redis-cli": "redis-tools", memcached: "memcached", saslpasswd2: "sasl2-bin", "/usr/lib/x86_64-linux-gnu/sasl2/libplain.so": "libsasl2-modules", openssl: "openssl", chromium: "chromium" },
  bench: { "redis-server": "redis-server", "redis-cli": "redis-tools", memcached: "memcached" },
  demo: {},
};

function log(message) {
  process.stdout.write(`[sessionbridge] ${message}\n`);
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: "inherit", cwd: root, ...options });
  if (result.error) throw result.error;
  return result.status ?? 1;
}

function has(binary) {
  if (binary.startsWith("/")) return existsSync(binary) || existsSync(binary.replace("x86_64", "aarch64"));
  return spawnSync("sh", ["-c", `command -v ${binary}`], { stdio: "ignore" }).status === 0;
}

function ensureDebianPackages(needs) {
  const missing = [...new Set(Object.entries(needs).filter(([bin]) => !has(bin)).map(([, pkg]) => pkg))];
  if (missing.length === 0) return;
  const isRoot = process.getuid?.() === 0;
  const sudo = !isRoot && spawnSync("sudo", ["-n", "true"], { stdio: "ignore" }).status === 0;
  if (!isRoot && !sudo) {
    log(`missing Debian packages: ${missing.join(" ")}`);
    log(`install them with:  sudo apt-get update && sudo apt-get install -y ${missing.join(" ")}`);
    process.exit(1);
  }
  const prefix = isRoot ? [] : ["sudo", "-n"];
  log(`installing Debian packages: ${missing.join(" ")}`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const apt = (args) => (prefix.length ? run(prefix[0], [...prefix.slice(1), "apt-get", ...args], { env }) : run("apt-get", args, { env }));
  if (apt(["update"]) !== 0 || apt(["install", "-y", "--no-install-recommends", ...missing]) !== 0) {
    log(`apt-get failed; install by hand: apt-get install -y ${missing.join(" ")}`);
    process.exit(1);
  }
  // Debian starts the services it installs; our tests start their own on free ports, so stop the
  // system ones only if we just installed them (never anything we did not start).
  for (const service of ["redis-server", "redis-sentinel", "memcached"]) {
    if (missing.includes(service)) spawnSync("sh", ["-c", `${prefix.join(" ")} service ${service} stop`], { stdio: "ignore" });
  }
}

function ensurePnpm() {
  const local = join(root, ".tools", "node_modules", ".bin");
  const onPath = spawnSync("sh", ["-c", "pnpm --version"], { encoding: "utf8" });
  const env = { ...process.env };
  if (!(onPath.status === 0 && onPath.stdout.trim().startsWith("10."))) {
    if (!existsSync(join(local, "pnpm"))) {
      log(`installing pnpm ${PNPM_VERSION} into .tools/`);
      mkdirSync(join(root, ".tools"), { recursive: true });
      if (run("npm", ["install", "--no-save", "--no-package-lock", "--prefix", join(root, ".tools"), `pnpm@${PNPM_VERSION}`]) !== 0) process.exit(1);
    }
    env.PATH = `${local}:${env.PATH}`;
  }
  env.PATH = `${join(root, "node_modules", ".bin")}:${env.PATH}`;
  return env;
}

ensureDebianPackages(NEEDS[task] ?? {});
const env = ensurePnpm();
const frozen = process.env.CI ? ["--frozen-lockfile"] : [];
if (run("pnpm", ["install", ...frozen], { env }) !== 0) process.exit(1);

const steps = {
  // The last step runs the core contract suites and the adapters' tests again on Node 24 (scripts/node24.mjs;
  // SESSIONBRIDGE_SKIP_NODE24=1 skips it).
  test: [["turbo", ["run", "build", "--output-logs=errors-only"]], ["turbo", ["run", "test", "--concurrency=1"]], [process.execPath, ["scripts/node24.mjs"]]],
  demo: [["turbo", ["run", "build", "--filter=@sessionbridge/demo...", "--output-logs=errors-only"]], ["pnpm", ["--filter", "@sessionbridge/demo", "run", "start"]]],
  bench: [["turbo", ["run", "build", "--output-logs=errors-only"]], ["pnpm", ["--filter", "@sessionbridge/bench", "run", "bench", ...process.argv.slice(3)]]],
};
if (!steps[task]) {
  log(`unknown task "${task}" (test, demo, bench)`);
  process.exit(2);
}
for (const [command, args] of steps[task]) {
  const status = run(command, args, { env });
  if (status !== 0) process.exit(status);
}
