#!/usr/bin/env node
// Runs a command against a throwaway real PostgreSQL: initdb into a temp directory, the server on a free
// loopback port (no password, fsync off), DATABASE_URL set for the command, then stopped and removed.
// `npm test` does not do this (docs/caching.md says why); run it by hand, e.g.
//   node scripts/with-postgres.mjs pnpm --filter @sessionbridge/cache test
//   node scripts/with-postgres.mjs pnpm --filter @sessionbridge/demo exec vitest run test/catalogue.test.ts
// Needs Debian's `postgresql` package (apt-get install -y postgresql). As root, the server runs as the
// `postgres` user the package creates (PostgreSQL refuses to run as root).
import { spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const command = process.argv.slice(2);
if (command.length === 0) {
  console.error("usage: node scripts/with-postgres.mjs <command> [args…]  (runs it with DATABASE_URL set)");
  process.exit(2);
}

function binDir() {
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, "bin", "initdb"))) : [];
  versions.sort((a, b) => Number(b) - Number(a));
  return versions.length > 0 ? join(root, versions[0], "bin") : undefined;
}

const bin = binDir();
if (bin === undefined) {
  console.error("PostgreSQL is not installed: apt-get install -y postgresql (Debian 12 has PostgreSQL 15)");
  process.exit(1);
}

const asRoot = process.getuid?.() === 0;
const dir = mkdtempSync(join(tmpdir(), "sessionbridge-pg-"));
if (asRoot) {
  const id = spawnSync("id", ["-u", "postgres"], { encoding: "utf8" });
  const gid = spawnSync("id", ["-g", "postgres"], { encoding: "utf8" });
  if (id.status !== 0) {
    console.error("running as root needs the postgres user (created by Debian's postgresql package)");
    process.exit(1);
  }
  chownSync(dir, Number(id.stdout), Number(gid.stdout));
}
const pg = (tool, args) => {
  const argv = asRoot ? ["runuser", "-u", "postgres", "--", join(bin, tool), ...args] : [join(bin, tool), ...args];
  return spawnSync(argv[0], argv.slice(1), { stdio: ["ignore", "ignore", "inherit"] }).status;
};

const port = await new Promise((resolve, reject) => {
  const server = createServer().once("error", reject);
  server.listen(0, "127.0.0.1", () => {
    const { port } = server.address();
    server.close(() => resolve(port));
  });
});

const data = join(dir, "data");
let started = false;
const stop = () => {
  if (started) pg("pg_ctl", ["-D", data, "-m", "fast", "-w", "stop"]);
  started = false;
  rmSync(dir, { recursive: true, force: true });
};
process.on("SIGINT", () => {}); // the command gets Ctrl-C too; we stop the server after it exits

let status = 1;
try {
  if (pg("initdb", ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]) !== 0) throw new Error("initdb failed");
  if (pg("pg_ctl", ["-D", data, "-o", `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, "-l", join(dir, "server.log"), "-w", "start"]) !== 0) throw new Error(`the server did not start:\n${existsSync(join(dir, "server.log")) ? readFileSync(join(dir, "server.log"), "utf8") : "(no log)"}`);
  started = true;
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  console.log(`[with-postgres] PostgreSQL from ${bin} on 127.0.0.1:${port}, DATABASE_URL=${url}`);
  status = spawnSync(command[0], command.slice(1), { stdio: "inherit", env: { ...process.env, DATABASE_URL: url } }).status ?? 1;
} catch (error) {
  console.error(`[with-postgres] ${error.message}`);
} finally {
  stop();
}
process.exit(status);
