import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startMemcached } from "@sessionbridge/testing";
import { afterEach, describe, expect, it } from "vitest";
import { csrfOf, killStartedDemos, launch, spawnDemo, visitor } from "./launch-demo.js";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The processes whose parent is `pid`, with their command lines (from /proc: Linux). */
function childrenOf(pid: number): Array<{ pid: number; command: string }> {
  const children: Array<{ pid: number; command: string }> = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // "pid (comm) state ppid …": comm may hold spaces and parentheses, so read after the last ")".
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === pid) {
        children.push({ pid: Number(entry), command: readFileSync(`/proc/${entry}/cmdline`, "utf8").replaceAll("\0", " ") });
      }
    } catch {
      // the process ended while we looked
    }
  }
  return children;
}

async function frameworksBehind(url: string, requests: number): Promise<string[]> {
  const seen: string[] = [];
  for (let i = 0; i < requests; i++) {
    const body = await (await fetch(url)).text();
    seen.push(/data-framework="([^"]+)"/.exec(body)?.[1] ?? "none");
  }
  return seen;
}

afterEach(killStartedDemos);

describe("pnpm demo", () => {
  it("starts a private redis-server and one process per framework, and Ctrl-C stops every one of them", async () => {
    const demo = await launch({});
    expect(demo.output()).toMatch(/sessions: a private redis-server on redis:\/\/127\.0\.0\.1:\d+ \(pid \d+\)/);
    const redisPid = Number(/redis-server on \S+ \(pid (\d+)\)/.exec(demo.output())?.[1]);
    const instancePids = [...demo.output().matchAll(/instance \S+ \((\w+)\) on 127\.0\.0\.1:\d+, pid (\d+)/g)].map((m) => Number(m[2]));
    expect(instancePids).toHaveLength(3);
    expect(new Set([...instancePids, demo.child.pid]).size).toBe(4); // each instance is its own process

    expect(new Set(await frameworksBehind(demo.url, 3))).toEqual(new Set(["Express", "Fastify", "Koa"]));
    // One scrape of the balancer covers the fleet: each process's series, labelled with its instance.
    const metrics = await (await fetch(new URL("/metrics", demo.url))).text();
    for (const [instance, framework] of [["express-1", "Express"], ["fastify-1", "Fastify"], ["koa-1", "Koa"]]) {
      expect(metrics).toMatch(new RegExp(`^db_client_operation_duration_count\\{[^}]*service_instance_id="${instance}",demo_framework="${framework}"[^}]*\\} [1-9]`, "m"));
    }
    // The catalogue's default database: PGlite in the launcher, reached by every instance process.
    expect(demo.output()).toMatch(/products: an embedded PGlite \(PostgreSQL in WebAssembly\) served to the instances on postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres/);
    const catalogue = await Promise.all([fetch(new URL("/catalogue", demo.url)), fetch(new URL("/catalogue", demo.url))]);
    for (const page of catalogue) expect(await page.text()).toContain(">Teapot</a>");

    demo.child.kill("SIGINT");
    expect(await demo.exited).toBe(0);
    // The parent waited for its children, so by now they are gone.
    for (const pid of [redisPid, ...instancePids]) expect(alive(pid), `pid ${pid}`).toBe(false);
  }, 120_000);

  it("stops every process it started, quietly, on a Ctrl-C while it is still starting", async () => {
    const { child, output, exited } = spawnDemo({});
    // The moment the issue found: redis-server is up and the three instances are loading.
    let children: Array<{ pid: number; command: string }> = [];
    await expect
      .poll(
        () => {
          children = childrenOf(child.pid as number);
          return children.filter((c) => c.command.includes("redis-server") || c.command.includes("instance-process")).length;
        },
        { timeout: 60_000, interval: 20 },
      )
      .toBe(4);
    try {
      expect(output(), "still starting when Ctrl-C comes").not.toContain("open http");
      child.kill("SIGINT");
      expect(await exited).toBe(0);
      // The demo waited for its children, so by now every one is gone.
      for (const { pid, command } of children) expect(alive(pid), `pid ${pid}: ${command}`).toBe(false);
      expect(output()).not.toContain("ERR_IPC_CHANNEL_CLOSED");
      expect(output()).not.toMatch(/^\s+at /m); // no stack trace of any kind
    } finally {
      // Only if the demo left them behind: exactly the processes we saw it start.
      for (const { pid } of children) if (alive(pid)) process.kill(pid, "SIGKILL");
    }
  }, 90_000);

  it("falls back to an in-memory store with every instance in one process when redis-server is not installed", async () => {
    const emptyPath = mkdtempSync(join(tmpdir(), "sessionbridge-demo-nopath-"));
    try {
      const demo = await launch({ PATH: emptyPath });
      expect(demo.output()).toContain("sessions: an in-memory store shared by every instance in this one process");
      const pids = [...demo.output().matchAll(/, pid (\d+)/g)].map((m) => Number(m[1]));
      expect(new Set(pids)).toEqual(new Set([demo.child.pid]));
      expect(new Set(await frameworksBehind(demo.url, 3))).toEqual(new Set(["Express", "Fastify", "Koa"]));
      demo.child.kill("SIGINT");
      expect(await demo.exited).toBe(0);
    } finally {
      rmSync(emptyPath, { recursive: true, force: true });
    }
  }, 60_000);

  it.each([
    { variable: "SESSION_STORE_URL", value: "postgres://user:hunter2@db", message: "SESSION_STORE_URL must be a URL starting with redis://, rediss://, memcached://" },
    { variable: "DATABASE_URL", value: "mysql://root:hunter2@db/shop", message: "DATABASE_URL must be a URL starting with postgres:// or postgresql://" },
  ])("refuses a bad $variable with a message naming the variable, without echoing it", async ({ variable, value, message }) => {
    const { output, exited } = spawnDemo({ [variable]: value });
    expect(await exited).toBe(1);
    expect(output()).toContain(message);
    expect(output()).not.toContain("hunter2");
  }, 30_000);

  it("uses the server in SESSION_STORE_URL (here memcached with SASL) for every framework, and never prints its password", async () => {
    const memcached = await startMemcached({ sasl: { username: "demo", password: "not-in-any-log-123" } });
    try {
      const demo = await launch({ SESSION_STORE_URL: memcached.url });
      expect(demo.output()).toContain(`sessions: the session store at memcached://127.0.0.1:${memcached.port}`);
      // Sign up through the balancer, then every framework knows the user.
      const call = visitor(demo.url);
      const csrf = csrfOf((await call("/signup")).body);
      expect((await call("/signup", { _csrf: csrf, username: "mc-user", displayName: "Memcached", password: "long enough" })).status).toBe(303);
      const frameworks = new Set<string>();
      for (let i = 0; i < 3; i++) {
        const page = await call("/");
        expect(page.body).toContain('id="whoami">mc-user<');
        expect(page.body).not.toContain('href="/sessions"'); // memcached keeps no per-user index
        frameworks.add(/data-framework="([^"]+)"/.exec(page.body)?.[1] ?? "");
      }
      expect(frameworks).toEqual(new Set(["Express", "Fastify", "Koa"]));
      demo.child.kill("SIGINT");
      expect(await demo.exited).toBe(0);
      expect(demo.output()).not.toContain("not-in-any-log-123");
    } finally {
      await memcached.dispose();
    }
  }, 60_000);
});
