import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import Fastify from "fastify";
import fastifyCookie from "@fastify/cookie";
import fastifySession from "@fastify/session";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cookieHeader, sessionIdFromCookie, startAdapterBackend, type AdapterBackend } from "@sessionbridge/testing";
import { createFastifyStore } from "../src/index.js";
import { RECENT_MAX_BYTES, RecentLoads } from "../src/recent-loads.js";

const SECRET = "a test secret that is long enough for every framework";
const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

/**
 * Issue 11 item 11: without the plugin, @fastify/session never says which request a save belongs to, so
 * the store remembers recent loads by id. That used to hold 10,000 whole decoded sessions; it now holds
 * only what a save needs (version, stored body), bounded in bytes.
 */
describe("createFastifyStore without the plugin: what it remembers between a load and a save", () => {
  let backend: AdapterBackend;
  beforeAll(async () => {
    backend = await startAdapterBackend("redis");
  });
  afterAll(async () => {
    await backend?.dispose();
  });

  it("holds at most its byte budget, dropping the least recently loaded, and no body larger than the budget", async () => {
    const core = backend.createStore({ prefix: "recent-bound:" });
    const filler = "y".repeat(10_000);
    const ids = Array.from({ length: 40 }, (_, i) => `bound-${i}`);
    await Promise.all(ids.map((id, i) => core.set(id, { blob: `${i}${filler}` })));
    const recent = new RecentLoads(100_000, 1000);
    for (const id of ids) {
      recent.remember(id, (await core.load(id))!);
      expect(recent.size.bytes).toBeLessThanOrEqual(100_000);
    }
    const kept = ids.filter((id) => recent.get(id) !== undefined);
    // 10,000 one-byte characters count 20,000 bytes (2 per character, an upper bound): four fit.
    expect(kept).toEqual(ids.slice(-4));
    expect(recent.size.entries).toBe(4);
    // Loading an id again replaces its entry (counted once) and makes it the most recent.
    recent.remember("bound-36", (await core.load("bound-36"))!);
    expect(recent.size.entries).toBe(4);
    recent.remember("bound-10", (await core.load("bound-10"))!);
    expect(ids.filter((id) => recent.get(id) !== undefined)).toEqual(["bound-10", "bound-36", "bound-38", "bound-39"].sort((a, b) => ids.indexOf(a) - ids.indexOf(b)));
    // A body larger than the whole budget is not kept, and its older entry goes too.
    await core.set("bound-39", { blob: "z".repeat(60_000) });
    recent.remember("bound-39", (await core.load("bound-39"))!);
    expect(recent.get("bound-39")).toBeUndefined();
    // The count bound holds as well.
    const few = new RecentLoads(RECENT_MAX_BYTES, 3);
    for (const id of ids.slice(0, 10)) few.remember(id, (await core.load(id))!);
    expect(few.size.entries).toBe(3);
    // What is kept has no decoded data: only the version and metadata next to the stored body.
    expect(recent.get("bound-38")!.data).toEqual({});
    expect(recent.get("bound-38")!.version).toBe((await core.load("bound-38"))!.version);
  });

  it("saves against a remembered load like against the request's own: unchanged costs no write, a deletion merges with a concurrent change", async () => {
    const core = backend.createStore({ prefix: "recent-merge:" });
    const app = Fastify();
    try {
      await app.register(fastifyCookie);
      await app.register(fastifySession, { store: createFastifyStore(core), secret: SECRET, cookieName: "sid", cookiePrefix: "s:", cookie: { secure: false, maxAge: 60_000 }, saveUninitialized: false, rolling: true });
      let arrived!: () => void;
      const reached = new Promise<void>((resolve) => (arrived = resolve));
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      app.post("/login", async (req) => {
        req.session.set("user" as never, "ada" as never);
        req.session.set("draft" as never, "x" as never);
        return { ok: true };
      });
      app.get("/me", async (req) => ({ user: req.session.get("user" as never) ?? null }));
      app.post("/discard", async (req) => {
        arrived();
        await gate;
        delete (req.session as unknown as Record<string, unknown>).draft;
        return { ok: true };
      });
      const setCookie = (await app.inject({ method: "POST", url: "/login" })).headers["set-cookie"];
      const cookie = cookieHeader(setCookie);
      const id = sessionIdFromCookie("sid", setCookie);
      const version = (await core.load(id))!.version;
      // rolling: @fastify/session saves this unchanged session; the remembered load shows nothing changed.
      expect((await app.inject({ url: "/me", headers: { cookie } })).json()).toEqual({ user: "ada" });
      expect((await core.load(id))!.version).toBe(version);
      // This request deletes `draft` while another instance adds `theme`: both survive the merge.
      const discard = app.inject({ method: "POST", url: "/discard", headers: { cookie } });
      await reached;
      const other = await core.load(id);
      await core.save(id, { ...other!.data, theme: "dark" }, { previous: other });
      release();
      expect((await discard).statusCode).toBe(200);
      expect((await core.load(id))!.data).toEqual({ user: "ada", theme: "dark" });
    } finally {
      await app.close();
    }
  });

  it("leaves a bounded heap after loading many distinct large sessions (child process, --expose-gc)", async () => {
    const url = backend.url as string;
    const { stdout } = await promisify(execFile)(process.execPath, ["--expose-gc", "--import", "tsx", here("./heap/recent-heap.ts"), url, "1200", "20000"], {
      env: { ...process.env, TSX_TSCONFIG_PATH: here("./heap/tsconfig.json") },
      timeout: 120_000,
    });
    const result = JSON.parse(stdout.trim().split("\n").at(-1) as string) as { growthBytes: number; recent: { entries: number; bytes: number } };
    // 1,200 sessions of 20 KB: the old map kept every one decoded (~49 MB of heap here); now at most the
    // byte budget (8 MiB) stays, plus noise of the heap itself.
    expect(result.recent.bytes).toBeLessThanOrEqual(RECENT_MAX_BYTES);
    expect(result.recent.entries).toBeLessThan(1200);
    expect(result.growthBytes).toBeLessThan(RECENT_MAX_BYTES + 8 * 1024 * 1024);
  }, 150_000); // a child that compiles TypeScript and makes 1,200 requests: slow on a busy 2-core machine
});
