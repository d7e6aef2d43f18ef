import Koa from "koa";
import session from "koa-session";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionStore } from "@sessionbridge/core";
import { ADAPTER_BACKENDS, commandsBetween, cookieHeader, eventually, sessionIdFromCookie, sleep, startAdapterBackend, type AdapterBackend } from "@sessionbridge/testing";
import { createKoaStore, expressCookie } from "../src/index.js";

const SECRET = "a test secret that is long enough for every framework";

function makeApp(core: SessionStore, options: { maxAge?: number | "session"; rolling?: boolean; renew?: boolean; meta?: boolean | ((ctx: Koa.Context) => Record<string, string>) } = {}) {
  const app = new Koa();
  let gate: Promise<void> = Promise.resolve();
  let arrived: () => void = () => undefined;
  app.use(async (ctx, next) => {
    try {
      await next();
    } catch (error) {
      const { status, code } = error as { status?: number; code?: string };
      ctx.status = status ?? 500;
      ctx.body = { code: code ?? "unknown" };
    }
  });
  const sessionOptions: Parameters<typeof session>[0] = {
    key: "sid",
    signed: false,
    maxAge: options.maxAge ?? 86_400_000,
    rolling: options.rolling ?? false,
    renew: options.renew ?? false,
    store: createKoaStore(core, typeof options.meta === "function" ? { meta: options.meta } : options.meta ? { meta: (ctx: Koa.Context) => ({ userAgent: ctx.get("user-agent") }) } : {}),
    externalKey: expressCookie({ name: "sid", secret: SECRET }),
  };
  app.use(session(sessionOptions, app));
  app.use(async (ctx) => {
    const sess = ctx.session as Record<string, unknown> & { regenerate(): Promise<void> };
    if (ctx.path === "/me") ctx.body = { user: sess.user ?? null, views: sess.views ?? 0 };
    else if (ctx.path === "/login") {
      await sess.regenerate();
      sess.user = "ada";
      ctx.body = { ok: true };
    } else if (ctx.path === "/view") {
      sess.views = ((sess.views as number | undefined) ?? 0) + 1;
      ctx.body = { views: sess.views };
    } else if (ctx.path === "/profile") {
      sess.profile = { name: "Ada", tags: ["math"] };
      ctx.body = { ok: true };
    } else if (ctx.path === "/profile/rename") {
      // Changes nested objects in place, as application code does: the store must still see the change.
      const profile = sess.profile as { name: string; tags: string[] } | undefined;
      if (profile) {
        profile.name = "Countess Ada";
        profile.tags.push("poetry");
      }
      ctx.body = { ok: true };
    } else if (ctx.path === "/profile/show") {
      ctx.body = sess.profile ?? null;
    } else if (ctx.path === "/theme") {
      arrived(); // the session has been loaded by now
      await gate;
      sess.theme = "dark";
      ctx.body = { ok: true };
    } else if (ctx.path === "/logout") {
      ctx.session = null;
      ctx.body = { ok: true };
    }
  });
  /** Makes the next /theme request wait, after loading its session, until `release()`. */
  const hold = () => {
    let release!: () => void;
    gate = new Promise<void>((resolve) => (release = resolve));
    const reached = new Promise<void>((resolve) => (arrived = resolve));
    return { reached, release };
  };
  return { server: app.callback(), hold };
}

describe.each(ADAPTER_BACKENDS)("koa-session on the %s backend", (kind) => {
  let backend: AdapterBackend;
  // Long enough that a stall of the (shared, 2-core) machine between two reads cannot outlast it.
  const ttlMs = 3000;

  beforeAll(async () => {
    backend = await startAdapterBackend(kind);
  });
  afterAll(async () => {
    await backend?.dispose();
  });

  it("logs in, reads and modifies the session", async () => {
    const { server } = makeApp(backend.createStore());
    const agent = request.agent(server);
    await agent.post("/login").expect(200);
    await agent.post("/view").expect(200);
    await agent.post("/view").expect(200);
    expect((await agent.get("/me").expect(200)).body).toEqual({ user: "ada", views: 2 });
  });

  it("saves a change made in place to a nested object of the session", async () => {
    const a = makeApp(backend.createStore()).server;
    const b = makeApp(backend.createStore()).server;
    const cookie = cookieHeader((await request(a).post("/login").expect(200)).headers["set-cookie"]);
    await request(a).post("/profile").set("Cookie", cookie).expect(200);
    await request(a).post("/profile/rename").set("Cookie", cookie).expect(200);
    expect((await request(b).get("/profile/show").set("Cookie", cookie).expect(200)).body).toEqual({ name: "Countess Ada", tags: ["math", "poetry"] });
  });

  it("regenerates the id at login and removes the old id from the backend", async () => {
    const core = backend.createStore();
    const { server } = makeApp(core);
    const agent = request.agent(server);
    const before = sessionIdFromCookie("sid", (await agent.post("/view").expect(200)).headers["set-cookie"]);
    expect(await core.get(before)).toMatchObject({ views: 1 });
    const after = sessionIdFromCookie("sid", (await agent.post("/login").expect(200)).headers["set-cookie"]);
    expect(after).not.toBe(before);
    expect(await core.get(before)).toBeNull();
    expect(await core.get(after)).toMatchObject({ user: "ada", views: 1 });
  });

  it("logs out: the session is gone from the backend and the old cookie no longer works", async () => {
    const core = backend.createStore();
    const { server } = makeApp(core);
    const setCookie = (await request(server).post("/login").expect(200)).headers["set-cookie"];
    const cookie = cookieHeader(setCookie);
    await request(server).post("/logout").set("Cookie", cookie).expect(200);
    expect(await core.get(sessionIdFromCookie("sid", setCookie))).toBeNull();
    expect((await request(server).get("/me").set("Cookie", cookie).expect(200)).body.user).toBeNull();
  });

  it("keeps a session alive while it is used (rolling), and expires it after the TTL when idle", async () => {
    const core = backend.createStore({ ttlMs });
    const { server } = makeApp(core, { maxAge: ttlMs, rolling: true });
    const agent = request.agent(server);
    const id = sessionIdFromCookie("sid", (await agent.post("/login").expect(200)).headers["set-cookie"]);
    for (let i = 0; i < 4; i++) {
      await sleep(ttlMs / 3);
      expect((await agent.get("/me").expect(200)).body.user).toBe("ada");
    }
    await sleep(ttlMs + 1200);
    expect(await core.get(id)).toBeNull();
    expect((await agent.get("/me").expect(200)).body.user).toBeNull();
  });

  it("handles maxAge 'session': a browser-session cookie, the store's TTL on the server", async () => {
    const core = backend.createStore({ ttlMs: 60_000 });
    const { server } = makeApp(core, { maxAge: "session" });
    const login = await request(server).post("/login").expect(200);
    const setCookie = login.headers["set-cookie"] as unknown as string[];
    expect(setCookie.find((c) => c.startsWith("sid="))).not.toMatch(/expires=/i);
    const cookie = cookieHeader(setCookie);
    await request(server).post("/view").set("Cookie", cookie).expect(200);
    expect((await request(server).get("/me").set("Cookie", cookie).expect(200)).body).toEqual({ user: "ada", views: 1 });
    const loaded = await core.load(sessionIdFromCookie("sid", setCookie));
    expect(loaded?.ttlMs).toBe(60_000);
  });

  it("stores request facts from the meta option with the session at login", async () => {
    const core = backend.createStore();
    const { server } = makeApp(core, { meta: true });
    const login = await request(server).post("/login").set("User-Agent", "test-browser/1.0").expect(200);
    expect((await core.load(sessionIdFromCookie("sid", login.headers["set-cookie"])))?.meta).toEqual({ userAgent: "test-browser/1.0" });
  });

  it("fails the request, writing nothing, when the meta option throws", async () => {
    const core = backend.createStore({ prefix: "meta-throws:" }); // its own keys: other tests' sessions are not counted
    const { server } = makeApp(core, {
      meta: () => {
        throw new Error("meta failed");
      },
    });
    const login = await request(server).post("/login").expect(500);
    expect(login.body).toEqual({ code: "unknown" });
    // At most the cookie regenerate() cleared: none naming a session.
    expect(String(login.headers["set-cookie"] ?? "")).not.toMatch(/sid=[^;]/);
    if (kind !== "memcached") {
      // Memcached cannot list its keys: there the missing cookie is the check.
      let stored = 0;
      for await (const _ of core.ids()) stored++;
      expect(stored).toBe(0);
    }
  });

  it("shares one login between two instances on the same backend", async () => {
    const a = makeApp(backend.createStore()).server;
    const b = makeApp(backend.createStore()).server;
    const cookie = cookieHeader((await request(a).post("/login").expect(200)).headers["set-cookie"]);
    expect((await request(b).get("/me").set("Cookie", cookie).expect(200)).body.user).toBe("ada");
    await request(b).post("/view").set("Cookie", cookie).expect(200);
    expect((await request(a).get("/me").set("Cookie", cookie).expect(200)).body).toEqual({ user: "ada", views: 1 });
  });

  it("a logout while another request is in flight sticks", async () => {
    const core = backend.createStore();
    const { server, hold } = makeApp(core);
    const setCookie = (await request(server).post("/login").expect(200)).headers["set-cookie"];
    const cookie = cookieHeader(setCookie);
    const { reached, release } = hold();
    const slow = request(server).post("/theme").set("Cookie", cookie).then((r) => r);
    await reached;
    await request(server).post("/logout").set("Cookie", cookie).expect(200);
    release();
    await slow;
    expect(await core.get(sessionIdFromCookie("sid", setCookie))).toBeNull();
  });

  if (kind !== "memory") {
    // One read that also slides the TTL: Redis GETEX, memcached GAT (counted under "touch" in its stats).
    const oneRead = kind === "redis" ? { getex: 1 } : { touch: 1 };
    it("costs exactly one backend command (GETEX / GAT) for an unmodified request with rolling", async () => {
      const { server } = makeApp(backend.createStore(), { maxAge: 60_000, rolling: true });
      const cookie = cookieHeader((await request(server).post("/login").expect(200)).headers["set-cookie"]);
      await request(server).get("/me").set("Cookie", cookie).expect(200); // warm: the adapter learns the TTL
      const before = await backend.commandCalls!();
      const response = await request(server).get("/me").set("Cookie", cookie).expect(200);
      expect(response.body.user).toBe("ada");
      expect(commandsBetween(before, await backend.commandCalls!())).toEqual(oneRead);
      expect(response.headers["set-cookie"]).toBeDefined(); // rolling re-sent the cookie without a rewrite
    });

    it("renews a session past half its maxAge with a fresh cookie and no rewrite (one command)", async () => {
      const maxAge = kind === "memcached" ? 4000 : 2000; // memcached counts expiry in whole seconds
      const { server } = makeApp(backend.createStore(), { maxAge, renew: true });
      const cookie = cookieHeader((await request(server).post("/login").expect(200)).headers["set-cookie"]);
      const early = await request(server).get("/me").set("Cookie", cookie).expect(200);
      expect(early.headers["set-cookie"]).toBeUndefined(); // not due yet
      await sleep(maxAge / 2 + 100); // past half of maxAge: koa-session renews
      const before = await backend.commandCalls!();
      const renewed = await request(server).get("/me").set("Cookie", cookie).expect(200);
      expect(renewed.body.user).toBe("ada");
      expect(renewed.headers["set-cookie"]).toBeDefined();
      expect(commandsBetween(before, await backend.commandCalls!())).toEqual(oneRead);
    });
  }

  if (kind !== "memory") {
    it("answers 503 (never a hung request) while the backend is down, and recovers by itself when it returns", async () => {
      const { server } = makeApp(backend.createStore({ timeoutMs: 500 }));
      const agent = request.agent(server);
      await agent.post("/login").expect(200);
      await backend.stop!();
      try {
        for (let i = 0; i < 3; i++) {
          const response = await agent.get("/me").timeout(3000);
          expect(response.status).toBe(503);
          expect(["UNAVAILABLE", "TIMEOUT"]).toContain(response.body.code);
        }
      } finally {
        await backend.restart!();
      }
      await eventually("the store serves requests again", async () => (await agent.post("/login").timeout(3000)).status === 200);
      expect((await agent.get("/me").expect(200)).body.user).toBe("ada");
    });
  }
});

describe("expressCookie", () => {
  it("rejects a missing secret with a CONFIG error", () => {
    expect(() => expressCookie({} as never)).toThrow(/"secret"/);
  });
});
