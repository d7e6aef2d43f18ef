import { execFileSync } from "node:child_process";
import { readFileSync, realpathSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { memcachedVersion, redisServerVersion } from "./servers.js";

const benchDir = join(dirname(fileURLToPath(import.meta.url)), "..");

const PACKAGES = [
  "@sessionbridge/core",
  "@sessionbridge/express",
  "@sessionbridge/fastify",
  "@sessionbridge/koa",
  "ioredis",
  "redis",
  "memjs",
  "connect-redis-8",
  "connect-redis",
  "koa-redis",
  "connect-memjs",
  "express",
  "express-session",
  "fastify",
  "@fastify/session",
  "@fastify/cookie",
  "koa",
  "koa-session",
  "autocannon",
];

function packageVersion(directory: string): string {
  try {
    return (JSON.parse(readFileSync(join(directory, "package.json"), "utf8")) as { version?: string }).version ?? "unknown";
  } catch {
    return "missing";
  }
}

/** The version of a dependency of a dependency (pnpm keeps it next to the dependent package). */
function nestedVersion(parent: string, name: string): string {
  try {
    return packageVersion(join(realpathSync(join(benchDir, "node_modules", parent)), "..", name));
  } catch {
    return "missing";
  }
}

/** Everything a reader needs to reproduce or discount a figure: versions, machine, commit. */
export function environment(): Record<string, unknown> {
  const versions: Record<string, string> = {};
  for (const name of PACKAGES) versions[name] = packageVersion(join(benchDir, "node_modules", name));
  // koa-redis brings its own ioredis major; record it, since it shapes koa-redis's numbers.
  versions["ioredis (inside koa-redis)"] = nestedVersion("koa-redis", "ioredis");
  let commit = "unknown";
  try {
    commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: benchDir, encoding: "utf8" }).trim();
  } catch {
    // not a git checkout
  }
  return {
    node: process.version,
    redisServer: redisServerVersion(),
    memcached: memcachedVersion(),
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? "unknown",
    memoryGb: Math.round(totalmem() / 2 ** 30),
    loadAverageAtStart: loadavg().map((value) => Math.round(value * 100) / 100),
    commit,
    packages: versions,
  };
}
