import Fastify, { type FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionStore } from "@sessionbridge/core";
import { ADAPTER_BACKENDS, commandsBetween, cookieHeader, eventually, sessionIdFromCookie, sleep, startAdapterBackend, type AdapterBackend } from "@sessionbridge/testing";
import fastifyCookie from "@fastify/cookie";
import fastifySession from "@fastify/session";
import { createFastifyStore, sessionbridge } from "../src/index.js";

const SECRET = "a test secret that is long enough for every framework";

declare module "fastify" {
  interface Session {
    user?: string;
    views?: number;
    theme?: string;
    profile?: { name: string; tags: string[] };
  }
}

async function makeApp(core: SessionStore, options: { rolling?: boolean; maxAgeMs?: number; closeStore?: boolean; meta?: boolean } = {}): Promise<FastifyInstance> {
  const app = Fastify();
  await app.register(sessionbridge, {
    store: core,
    secret: SECRET,
    cookieName: "sid",
    cookiePrefix: "s:",
    cookie: { secure: false, ...(options.maxAgeMs === undefined ? {} : { maxAge: options.maxAgeMs }) },
    saveUninitialized: false,
    rolling: options.rolling ?? true,
    closeStore: options.closeStore ?? false,
    ...(options.meta ? { meta: (request) => ({ userAgent: request.headers["user-agent"] ?? "" }) } : {}),
  });
  let gate: Promise<void> = Promise.resolve();
  let arrived: () => void = () => undefined;
  // Makes the next /theme request wait, after loading its session, until `release()`.
  app.decorate("holdNextTheme", () => {
    let release!: () => void;
    gate = new Promise<void>((resolve) => (release = resolve));
    const reached = new Promise<void>((resolve) => (arrived = resolve));
    return { reached, release };
  });
  app.get("/me", async (req) => ({ user: req.session.get("user") ?? null, views: req.session.get("views") ?? 0 }));
  app.post("/login", async (req) => {
    await req.session.regenerate();
    req.session.set("user", "ada");
    return { ok: true };
  });
  app.post("/view", async (req) => {
    req.session.set("views", (req.session.get("views") ?? 0) + 1);
    return { views: req.session.get("views") };
  });
  app.post("/profile", async (req) => {
    req.session.set("profile", { name: "Ada", tags: ["math"] });
    return { ok: true };
  });
  // Changes nested objects in place, as application code does: the store must still see the change.
  app.post("/profile/rename", async (req) => {
    const profile = req.session.get("profile");
    if (profile) {
      profile.name = "Countess Ada";
      profile.tags.push("poetry");
    }
    return { ok: true };
  });
  app.get("/profile", async (req) => req.session.get("profile") ?? null);
  app.post("/theme", async (req) => {
    arrived();
    await gate; // lets a test run another request while this one is in flight
    req.session.set("theme", "dark");
    return { ok: true };
  });
  app.post("/logout", async (req) => {
    await req.session.destroy();
    return { ok: true };
  });
  await app.ready();
  return app;
}

const hold = (server: FastifyInstance) => (server as unknown as { holdNextTheme(): { reached: Promise<void>; release: () => void } }).holdNextTheme();

describe.each(ADAPTER_BACKENDS)("@fastify/session on the %s backend", (kind) => {
  let backend: AdapterBackend;
  // Long enough that a stall of the (shared, 2-core) machine between two reads cannot outlast it.
  const ttlMs = 3000;
  const apps: FastifyInstance[] = [];
  const app = async (core: SessionStore, options?: Parameters<typeof makeApp>[1]) => {
    const made = await makeApp(core, options);
    apps.push(made);
    return made;
  };

  beforeAll(async () => {
    backend = await startAdapterBackend(kind);
  });
  afterAll(async () => {
    await Promise.all(apps.map((a) => a.close()));
    await backend?.dispose();
  });

  it("logs in, reads and modifies the session", async () => {
    const server = await app(backend.createStore());
    const cookie = cookieHeader((await server.inject({ method: "POST", url: "/login" })).headers["set-cookie"]);
    await server.inject({ method: "POST", url: "/view", headers: { cookie } });
    await server.inject({ method: "POST", url: "/view", headers: { cookie } });
    expect((await server.inject({ url: "/me", headers: { cookie } })).json()).toEqual({ user: "ada", views: 2 });
  });

  it("saves a change made in place to a nested object of the session", async () => {
    const a = await app(backend.createStore());
    const b = await app(backend.createStore());
    const cookie = cookieHeader((await a.inject({ method: "POST", url: "/login" })).headers["set-cookie"]);
    await a.inject({ method: "POST", url: "/profile", headers: { cookie } });
    await a.inject({ method: "POST", url: "/profile/rename", headers: { cookie } });
    expect((await b.inject({ url: "/profile", headers: { cookie } })).json()).toEqual({ name: "Countess Ada", tags: ["math", "poetry"] });
  });

  it("regenerates the id at login and removes the old id from the backend", async () => {
    const core = backend.createStore();
    const server = await app(core);
    const first = (await server.inject({ method: "POST", url: "/view" })).headers["set-cookie"];
    const before = sessionIdFromCookie("sid", first);
    expect(await core.get(before)).toMatchObject({ views: 1 });
    const login = await server.inject({ method: "POST", url: "/login", headers: { cookie: cookieHeader(first) } });
    const after = sessionIdFromCookie("sid", login.headers["set-cookie"]);
    expect(after).not.toBe(before);
    expect(await core.get(before)).toBeNull();
    expect(await core.get(after)).toMatchObject({ user: "ada" });
  });

  it("logs out: the session is gone from the backend and the old cookie no longer works", async () => {
    const core = backend.createStore();
    const server = await app(core);
    const setCookie = (await server.inject({ method: "POST", url: "/login" })).headers["set-cookie"];
    const cookie = cookieHeader(setCookie);
    await server.inject({ method: "POST", url: "/logout", headers: { cookie } });
    expect(await core.get(sessionIdFromCookie("sid", setCookie))).toBeNull();
    expect((await server.inject({ url: "/me", headers: { cookie } })).json().user).toBeNull();
  });

  it("keeps a session alive while it is used (rolling), and expires it after the TTL when idle", async () => {
    const core = backend.createStore({ ttlMs });
    const server = await app(core, { maxAgeMs: ttlMs });
    const setCookie = (await server.inject({ method: "POST", url: "/login" })).headers["set-cookie"];
    const cookie = cookieHeader(setCookie);
    for (let i = 0; i < 4; i++) {
      await sleep(ttlMs / 3);
      expect((await server.inject({ url: "/me", headers: { cookie } })).json().user).toBe("ada");
    }
    await sleep(ttlMs + 1200);
    expect(await core.get(sessionIdFromCookie("sid", setCookie))).toBeNull();
    expect((await server.inject({ url: "/me", headers: { cookie } })).json().user).toBeNull();
  });

  it("keeps a browser-session cookie (no maxAge) for loaded sessions, with the store's TTL on the server", async () => {
    const core = backend.createStore({ ttlMs: 60_000 });
    const server = await app(core); // no cookie maxAge
    const setCookie = (await server.inject({ method: "POST", url: "/login" })).headers["set-cookie"];
    const cookie = cookieHeader(setCookie);
    const again = await server.inject({ url: "/me", headers: { cookie } });
    expect(again.json().user).toBe("ada");
    const resent = ([] as string[]).concat(again.headers["set-cookie"] ?? []).find((c) => c.startsWith("sid="));
    expect(resent).toBeDefined(); // rolling
    expect(resent).not.toMatch(/Expires=|Max-Age=/i);
    expect((await core.load(sessionIdFromCookie("sid", setCookie)))?.ttlMs).toBe(60_000);
  });

  it("stores request facts from the meta option with the session at login", async () => {
    const core = backend.createStore();
    const server = await app(core, { meta: true });
    const login = await server.inject({ method: "POST", url: "/login", headers: { "user-agent": "test-browser/1.0" } });
    expect((await core.load(sessionIdFromCookie("sid", login.headers["set-cookie"])))?.meta).toEqual({ userAgent: "test-browser/1.0" });
  });

  it("shares one login between two instances on the same backend", async () => {
    const a = await app(backend.createStore());
    const b = await app(backend.createStore());
    const cookie = cookieHeader((await a.inject({ method: "POST", url: "/login" })).headers["set-cookie"]);
    expect((await b.inject({ url: "/me", headers: { cookie } })).json().user).toBe("ada");
    await b.inject({ method: "POST", url: "/view", headers: { cookie } });
    expect((await a.inject({ url: "/me", headers: { cookie } })).json()).toEqual({ user: "ada", views: 1 });
  });

  it("keeps both changes when two requests change different fields of one session at once", async () => {
    const core = backend.createStore();
    const server = await app(core);
    const setCookie = (await server.inject({ method: "POST", url: "/login" })).headers["set-cookie"];
    const cookie = cookieHeader(setCookie);
    const { reached, release } = hold(server);
    const slow = server.inject({ method: "POST", url: "/theme", headers: { cookie } });
    await reached;
    await server.inject({ method: "POST", url: "/view", headers: { cookie } }); // completes while /theme waits
    release();
    await slow;
    expect(await core.get(sessionIdFromCookie("sid", setCookie))).toMatchObject({ user: "ada", views: 1, theme: "dark" });
  });

  it("a logout while another request is in flight sticks", async () => {
    const core = backend.createStore();
    const server = await app(core);
    const setCookie = (await server.inject({ method: "POST", url: "/login" })).headers["set-cookie"];
    const cookie = cookieHeader(setCookie);
    const { reached, release } = hold(server);
    const slow = server.inject({ method: "POST", url: "/theme", headers: { cookie } });
    await reached;
    await server.inject({ method: "POST", url: "/logout", headers: { cookie } });
    release();
    await slow;
    expect(await core.get(sessionIdFromCookie("sid", setCookie))).toBeNull();
  });

  if (kind !== "memory") {
    // One read that also slides the TTL: Redis GETEX, memcached GAT (counted under "touch" in its stats).
    const oneRead = kind === "redis" ? { getex: 1 } : { touch: 1 };
    for (const rolling of [true, false]) {
      it(`costs exactly one backend command (GETEX / GAT) for an unmodified request with rolling ${rolling}`, async () => {
        const server = await app(backend.createStore(), { rolling, maxAgeMs: 60_000 });
        const cookie = cookieHeader((await server.inject({ method: "POST", url: "/login" })).headers["set-cookie"]);
        await server.inject({ url: "/me", headers: { cookie } }); // warm: the adapter learns the TTL sessions use
        const before = await backend.commandCalls!();
        const response = await server.inject({ url: "/me", headers: { cookie } });
        expect(response.json().user).toBe("ada");
        expect(commandsBetween(before, await backend.commandCalls!())).toEqual(oneRead);
        // rolling re-sends the cookie with a fresh expiry without rewriting the session
        expect(response.headers["set-cookie"] !== undefined).toBe(rolling);
      });
    }
  }

  if (kind !== "memory") {
    it("answers 503 (never a hung request) while the backend is down, and recovers by itself when it returns", async () => {
      const server = await app(backend.createStore({ timeoutMs: 500 }));
      const cookie = cookieHeader((await server.inject({ method: "POST", url: "/login" })).headers["set-cookie"]);
      await backend.stop!();
      try {
        for (let i = 0; i < 3; i++) {
          const response = await server.inject({ url: "/me", headers: { cookie } });
          expect(response.statusCode).toBe(503);
          expect(["UNAVAILABLE", "TIMEOUT"]).toContain(response.json().code);
        }
      } finally {
        await backend.restart!();
      }
      await eventually("the store serves requests again", async () => (await server.inject({ url: "/me", headers: { cookie } })).statusCode === 200);
      const again = cookieHeader((await server.inject({ method: "POST", url: "/login" })).headers["set-cookie"]);
      expect((await server.inject({ url: "/me", headers: { cookie: again } })).json().user).toBe("ada");
    });
  }
});

describe("the sessionbridge Fastify plugin", () => {
  it("rejects bad options at registration with a CONFIG error naming the option", async () => {
    const backend = await startAdapterBackend("memory");
    try {
      const bad = async (options: object) => {
        const app = Fastify();
        app.register(sessionbridge, options as never);
        const error = await app.ready().then(() => undefined, (e: unknown) => e);
        await app.close().catch(() => undefined);
        return error;
      };
      expect(await bad({ secret: SECRET })).toMatchObject({ code: "CONFIG", message: expect.stringContaining('"store"') });
      expect(await bad({ store: backend.createStore(), secret: "short" })).toMatchObject({ code: "CONFIG", message: expect.stringContaining('"secret"') });
      expect(await bad({ store: backend.createStore(), secret: SECRET, closeStore: "yes" })).toMatchObject({ code: "CONFIG" });
    } finally {
      await backend.dispose();
    }
  });

  it("closes the store when the app closes, and exposes it for administration", async () => {
    const backend = await startAdapterBackend("memory");
    try {
      const core = backend.createStore();
      const app = await makeApp(core, { closeStore: true });
      expect(app.sessionbridge).toBe(core);
      await app.inject({ method: "POST", url: "/login" });
      expect(await app.sessionbridge.length()).toBe(1);
      await app.close();
      await expect(core.get("any-id")).rejects.toMatchObject({ code: "CLOSED" });
    } finally {
      await backend.dispose();
    }
  });
});

describe("createFastifyStore without the plugin", () => {
  it("works as @fastify/session's store: login, read, modify, logout that sticks", async () => {
    const backend = await startAdapterBackend("memory");
    const app = Fastify();
    try {
      const core = backend.createStore();
      await app.register(fastifyCookie);
      await app.register(fastifySession, { store: createFastifyStore(core), secret: SECRET, cookieName: "sid", cookiePrefix: "s:", cookie: { secure: false, maxAge: 60_000 }, saveUninitialized: false });
      app.post("/login", async (req) => {
        req.session.set("user", "ada");
        return { ok: true };
      });
      app.post("/view", async (req) => {
        req.session.set("views", (req.session.get("views") ?? 0) + 1);
        return { ok: true };
      });
      app.get("/me", async (req) => ({ user: req.session.get("user") ?? null, views: req.session.get("views") ?? 0 }));
      app.post("/logout", async (req) => {
        await req.session.destroy();
        return { ok: true };
      });
      let arrived!: () => void;
      const reached = new Promise<void>((resolve) => (arrived = resolve));
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      app.post("/slow", async (req) => {
        arrived();
        await gate;
        req.session.set("theme", "dark");
        return { ok: true };
      });
      const setCookie = (await app.inject({ method: "POST", url: "/login" })).headers["set-cookie"];
      const cookie = cookieHeader(setCookie);
      await app.inject({ method: "POST", url: "/view", headers: { cookie } });
      expect((await app.inject({ url: "/me", headers: { cookie } })).json()).toEqual({ user: "ada", views: 1 });
      // A logout while another request of the session is in flight sticks here too.
      const slow = app.inject({ method: "POST", url: "/slow", headers: { cookie } });
      await reached;
      await app.inject({ method: "POST", url: "/logout", headers: { cookie } });
      release();
      await slow;
      expect(await core.get(sessionIdFromCookie("sid", setCookie))).toBeNull();
    } finally {
      await app.close();
      await backend.dispose();
    }
  });

  it("the plugin accepts an app that already registered @fastify/cookie", async () => {
    const backend = await startAdapterBackend("memory");
    const app = Fastify();
    try {
      await app.register(fastifyCookie);
      await app.register(sessionbridge, { store: backend.createStore(), secret: SECRET, cookie: { secure: false } });
      app.get("/", async (req) => {
        req.session.set("views", 1);
        return "ok";
      });
      expect((await app.inject({ url: "/" })).statusCode).toBe(200);
    } finally {
      await app.close();
      await backend.dispose();
    }
  });
});
