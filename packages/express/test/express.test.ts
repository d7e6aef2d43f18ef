import express, { type NextFunction, type Request, type Response } from "express";
import session from "express-session";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSessionStore, memcachedBackend, type SessionStore } from "@sessionbridge/core";
import { ADAPTER_BACKENDS, NODE_REDIS_ADAPTER_BACKEND, commandsBetween, eventually, sessionIdFromCookie, signedCookieValue, sleep, startAdapterBackend, startMemcachedNodes, type AdapterBackend, type MemcachedServer } from "@sessionbridge/testing";
import { createExpressStore, type ExpressStoreOptions } from "../src/index.js";

const SECRET = "a test secret that is long enough for every framework";

declare module "express-session" {
  interface SessionData {
    user?: string;
    views?: number;
    profile?: { name: string; tags: string[] };
  }
}

/** Makes the next /slow-theme request wait, after loading its session, until `release()`. */
const slow = { gate: Promise.resolve(), arrived: () => undefined as void };
function hold() {
  let release!: () => void;
  slow.gate = new Promise<void>((resolve) => (release = resolve));
  const reached = new Promise<void>((resolve) => (slow.arrived = resolve));
  return { reached, release };
}

function makeApp(core: SessionStore, options: { maxAgeMs?: number; rolling?: boolean; sameSite?: "strict"; store?: ExpressStoreOptions } = {}) {
  const store = createExpressStore(core, options.store);
  const app = express();
  const cookie = { ...(options.maxAgeMs === undefined ? {} : { maxAge: options.maxAgeMs }), ...(options.sameSite ? { sameSite: options.sameSite } : {}) };
  app.use(session({ store, secret: SECRET, name: "sid", rolling: options.rolling ?? false, resave: false, saveUninitialized: false, cookie }));
  app.get("/me", (req, res) => {
    res.json({ anonymous: req.session === undefined, user: req.session?.user ?? null, views: req.session?.views ?? 0 });
  });
  app.post("/login", (req, res, next) => {
    req.session.regenerate((error) => {
      if (error) return next(error);
      req.session.user = "ada";
      res.json({ ok: true });
    });
  });
  app.post("/view", (req, res) => {
    req.session.views = (req.session.views ?? 0) + 1;
    res.json({ views: req.session.views });
  });
  app.post("/profile", (req, res) => {
    req.session.profile = { name: "Ada", tags: ["math"] };
    res.json({ ok: true });
  });
  // Changes nested objects in place, as application code does: the store must still see the change.
  app.post("/profile/rename", (req, res) => {
    if (req.session.profile) {
      req.session.profile.name = "Countess Ada";
      req.session.profile.tags.push("poetry");
    }
    res.json({ ok: true });
  });
  app.get("/profile", (req, res) => {
    res.json(req.session.profile ?? null);
  });
  app.post("/remember-me", (req, res) => {
    req.session.cookie.maxAge = 30 * 86_400_000;
    res.json({ ok: true });
  });
  app.post("/expire-cookie", (req, res) => {
    req.session.views = 99;
    req.session.cookie.expires = new Date(Date.now() - 1000);
    res.json({ ok: true });
  });
  app.post("/slow-theme", async (req, res) => {
    slow.arrived();
    await slow.gate;
    (req.session as unknown as Record<string, unknown>).theme = "dark";
    res.json({ ok: true });
  });
  app.post("/logout", (req, res, next) => {
    req.session.destroy((error) => (error ? next(error) : res.json({ ok: true })));
  });
  app.get("/admin/count", (req, res, next) => {
    store.length((error, n) => (error ? next(error) : res.json({ n })));
  });
  app.use((error: { status?: number; code?: string }, _req: Request, res: Response, _next: NextFunction) => {
    res.status(error.status ?? 500).json({ code: error.code ?? "unknown" });
  });
  return { app, store };
}

const sessionIdOf = (setCookie: string[] | string | undefined) => sessionIdFromCookie("sid", setCookie);

// Once more on Redis through a node-redis client (the adapters' other suites run on ioredis only).
describe.each([...ADAPTER_BACKENDS, NODE_REDIS_ADAPTER_BACKEND])("express-session on the %s backend", (kind) => {
  let backend: AdapterBackend;
  // memcached counts expiry in whole seconds, so its TTL tests need more room.
  // Long enough that a stall of the (shared, 2-core) machine between two reads cannot outlast it.
  const ttlMs = 3000;

  beforeAll(async () => {
    backend = await startAdapterBackend(kind);
  });
  afterAll(async () => {
    await backend?.dispose();
  });

  it("logs in, reads and modifies the session", async () => {
    const { app } = makeApp(backend.createStore());
    const agent = request.agent(app);
    await agent.post("/login").expect(200);
    expect((await agent.get("/me").expect(200)).body).toMatchObject({ user: "ada", views: 0 });
    await agent.post("/view").expect(200);
    await agent.post("/view").expect(200);
    expect((await agent.get("/me").expect(200)).body).toMatchObject({ user: "ada", views: 2 });
  });

  it("saves a change made in place to a nested object of the session", async () => {
    const a = makeApp(backend.createStore()).app;
    const b = makeApp(backend.createStore()).app;
    const cookie = (await request(a).post("/login").expect(200)).headers["set-cookie"] as unknown as string[];
    await request(a).post("/profile").set("Cookie", cookie).expect(200);
    await request(a).post("/profile/rename").set("Cookie", cookie).expect(200);
    expect((await request(b).get("/profile").set("Cookie", cookie).expect(200)).body).toEqual({ name: "Countess Ada", tags: ["math", "poetry"] });
  });

  it("regenerates the id at login and removes the old id from the backend", async () => {
    const core = backend.createStore();
    const { app } = makeApp(core);
    const agent = request.agent(app);
    const before = sessionIdOf((await agent.post("/view").expect(200)).headers["set-cookie"]);
    expect(await core.get(before)).toMatchObject({ views: 1 });
    const after = sessionIdOf((await agent.post("/login").expect(200)).headers["set-cookie"]);
    expect(after).not.toBe(before);
    expect(await core.get(before)).toBeNull();
    expect(await core.get(after)).toMatchObject({ user: "ada" });
  });

  it("logs out: the session is gone from the backend and the old cookie no longer works", async () => {
    const core = backend.createStore();
    const { app } = makeApp(core);
    const login = await request(app).post("/login").expect(200);
    const cookie = login.headers["set-cookie"] as unknown as string[];
    const id = sessionIdOf(cookie);
    await request(app).post("/logout").set("Cookie", cookie).expect(200);
    expect(await core.get(id)).toBeNull();
    expect((await request(app).get("/me").set("Cookie", cookie).expect(200)).body).toMatchObject({ user: null });
  });

  it("keeps a session alive while it is used, and expires it after the TTL when idle", async () => {
    const core = backend.createStore({ ttlMs });
    const { app } = makeApp(core, { maxAgeMs: ttlMs, rolling: true });
    const agent = request.agent(app);
    const id = sessionIdOf((await agent.post("/login").expect(200)).headers["set-cookie"]);
    // Used every third of the TTL for longer than the TTL: still logged in (the TTL slides).
    for (let i = 0; i < 4; i++) {
      await sleep(ttlMs / 3);
      expect((await agent.get("/me").expect(200)).body.user).toBe("ada");
    }
    // Then idle for longer than the TTL: gone.
    await sleep(ttlMs + 1200);
    expect(await core.get(id)).toBeNull();
    expect((await agent.get("/me").expect(200)).body.user).toBeNull();
  });

  it("shares one login between two instances on the same backend", async () => {
    const a = makeApp(backend.createStore()).app;
    const b = makeApp(backend.createStore()).app;
    const cookie = (await request(a).post("/login").expect(200)).headers["set-cookie"] as unknown as string[];
    expect((await request(b).get("/me").set("Cookie", cookie).expect(200)).body.user).toBe("ada");
    await request(b).post("/view").set("Cookie", cookie).expect(200);
    expect((await request(a).get("/me").set("Cookie", cookie).expect(200)).body).toMatchObject({ user: "ada", views: 1 });
  });

  it("destroys a session whose cookie has already expired instead of writing it", async () => {
    const core = backend.createStore();
    const { app } = makeApp(core, { maxAgeMs: 60_000 });
    const cookie = (await request(app).post("/login").expect(200)).headers["set-cookie"] as unknown as string[];
    const id = sessionIdOf(cookie);
    await request(app).post("/expire-cookie").set("Cookie", cookie).expect(200);
    expect(await core.get(id)).toBeNull();
  });

  it("gives a loaded session the configured cookie attributes, even one written by another framework", async () => {
    const core = backend.createStore();
    const { app } = makeApp(core, { maxAgeMs: 60_000, rolling: true, sameSite: "strict" });
    // A session as Fastify or Koa would have written it: the record carries no express cookie.
    await core.set("written-elsewhere-1", { user: "ada" }, { ttlMs: 120_000 });
    const response = await request(app).get("/me").set("Cookie", `sid=${signedCookieValue("written-elsewhere-1", SECRET)}`).expect(200);
    expect(response.body.user).toBe("ada");
    const setCookie = (response.headers["set-cookie"] as unknown as string[]).find((c) => c.startsWith("sid="));
    expect(setCookie).toMatch(/SameSite=Strict/);
    expect(setCookie).toMatch(/HttpOnly/);
    // The session's own idle timeout (2 min), not the configured maxAge (1 min), sets the cookie's expiry.
    const expires = Date.parse(/Expires=([^;]+)/.exec(setCookie ?? "")?.[1] ?? "");
    expect(expires - Date.now()).toBeGreaterThan(90_000);
  });

  it("stores request facts from the meta option with the session at login", async () => {
    const core = backend.createStore();
    const { app } = makeApp(core, { store: { meta: (req) => ({ userAgent: req.get("user-agent") ?? "" }) } });
    const login = await request(app).post("/login").set("User-Agent", "test-browser/1.0").expect(200);
    expect((await core.load(sessionIdOf(login.headers["set-cookie"])))?.meta).toEqual({ userAgent: "test-browser/1.0" });
  });

  it("saves a 'remember me' change of cookie.maxAge as the session's own TTL", async () => {
    const core = backend.createStore();
    const { app } = makeApp(core, { maxAgeMs: 60_000 });
    const agent = request.agent(app);
    const id = sessionIdOf((await agent.post("/login").expect(200)).headers["set-cookie"]);
    await agent.post("/remember-me").expect(200);
    expect((await core.load(id))?.ttlMs).toBe(30 * 86_400_000);
    expect((await agent.get("/me").expect(200)).body.user).toBe("ada");
    expect((await core.load(id))?.ttlMs).toBe(30 * 86_400_000);
  });

  it("a logout while another request is in flight sticks, and concurrent changes to different fields both survive", async () => {
    const core = backend.createStore();
    const { app } = makeApp(core);
    const setCookie = (await request(app).post("/login").expect(200)).headers["set-cookie"];
    const cookie = setCookie as unknown as string[];
    const id = sessionIdOf(setCookie);
    // Two fields at once: /slow-theme is held after loading while /view saves.
    let held = hold();
    let pending = request(app).post("/slow-theme").set("Cookie", cookie).then((r) => r);
    await held.reached;
    await request(app).post("/view").set("Cookie", cookie).expect(200);
    held.release();
    await pending;
    expect(await core.get(id)).toMatchObject({ user: "ada", views: 1, theme: "dark" });
    // A logout while /slow-theme is in flight: its save must not bring the session back.
    held = hold();
    pending = request(app).post("/slow-theme").set("Cookie", cookie).then((r) => r);
    await held.reached;
    await request(app).post("/logout").set("Cookie", cookie).expect(200);
    held.release();
    await pending;
    expect(await core.get(id)).toBeNull();
  });

  it("keeps a change made concurrently by another instance when this request only read", async () => {
    const core = backend.createStore();
    const { app } = makeApp(core);
    const cookie = (await request(app).post("/login").expect(200)).headers["set-cookie"] as unknown as string[];
    const id = sessionIdOf(cookie);
    const loaded = await core.load(id);
    // Another instance changes the session; this instance then saves what it loaded earlier plus one field.
    await core.save(id, { ...(loaded?.data ?? {}), theme: "dark" }, { previous: loaded });
    await request(app).post("/view").set("Cookie", cookie).expect(200);
    expect(await core.get(id)).toMatchObject({ user: "ada", theme: "dark", views: 1 });
  });

  if (kind === "memcached") {
    it("answers length(), all() and clear() with a clear UNSUPPORTED error (memcached cannot list keys), and keeps the sessions", async () => {
      const core = backend.createStore();
      const { app, store } = makeApp(core);
      const cookie = (await request(app).post("/login").expect(200)).headers["set-cookie"] as unknown as string[];
      expect((await request(app).get("/admin/count").expect(500)).body.code).toBe("UNSUPPORTED");
      const callbackError = (call: (done: (error: unknown) => void) => void) => new Promise<{ code?: string; message?: string }>((resolve) => call((error) => resolve(error as { code?: string })));
      const allError = await callbackError((done) => store.all((error) => done(error)));
      expect(allError).toMatchObject({ code: "UNSUPPORTED", message: expect.stringContaining("cannot list keys") });
      expect(await callbackError((done) => store.clear((error) => done(error)))).toMatchObject({ code: "UNSUPPORTED" });
      // Nothing was flushed: the login is still there.
      expect((await request(app).get("/me").set("Cookie", cookie).expect(200)).body.user).toBe("ada");
    });
  } else {
    it("counts, lists and clears sessions", async () => {
      const core = backend.createStore({ prefix: `count-${kind}:` });
      const { app, store } = makeApp(core);
      await request(app).post("/login").expect(200);
      await request(app).post("/login").expect(200);
      expect((await request(app).get("/admin/count").expect(200)).body.n).toBe(2);
      const all = await new Promise<Record<string, unknown>>((resolve, reject) => store.all((e, v) => (e ? reject(e) : resolve(v ?? {}))));
      expect(Object.values(all)).toEqual([expect.objectContaining({ user: "ada" }), expect.objectContaining({ user: "ada" })]);
      await new Promise<void>((resolve, reject) => store.clear((e) => (e ? reject(e) : resolve())));
      expect(await core.length()).toBe(0);
    });
  }

  if (kind !== "memory") {
    // One read that also slides the TTL: Redis GETEX, memcached GAT (counted under "touch" in its stats).
    const oneRead = kind === "memcached" ? { touch: 1 } : { getex: 1 };
    it("costs exactly one backend command (GETEX / GAT) for an unmodified request", async () => {
      const { app } = makeApp(backend.createStore(), { maxAgeMs: 60_000 });
      const agent = request.agent(app);
      await agent.post("/login").expect(200);
      await agent.get("/me").expect(200); // warm: the store learns the TTL sessions use
      const before = await backend.commandCalls!();
      expect((await agent.get("/me").expect(200)).body.user).toBe("ada");
      expect(commandsBetween(before, await backend.commandCalls!())).toEqual(oneRead);
    });

    it("sends the response to an unmodified request in one piece (express-session splits it when touch answers later)", async () => {
      const store = createExpressStore(backend.createStore());
      const app = express();
      let writes = 0;
      app.use((_req, res, next) => {
        // express-session captures res.write when its middleware runs: count what it writes through it.
        const write = res.write;
        res.write = function (this: Response, ...args: unknown[]) {
          writes++;
          return (write as (...a: unknown[]) => boolean).apply(this, args);
        } as Response["write"];
        next();
      });
      app.use(session({ store, secret: SECRET, name: "sid", resave: false, saveUninitialized: false, cookie: { maxAge: 60_000 } }));
      app.get("/login", (req, res) => void ((req.session.user = "ada"), res.send("ok")));
      app.get("/me", (req, res) => void res.send(`hello ${req.session.user}`));
      const agent = request.agent(app);
      await agent.get("/login").expect(200);
      await agent.get("/me").expect(200); // warm: the store learns the TTL sessions use
      writes = 0;
      expect((await agent.get("/me").expect(200)).text).toBe("hello ada");
      expect(writes).toBe(0);
    });

    it("with touchAfterMs, an unmodified request costs one plain get", async () => {
      const { app } = makeApp(backend.createStore({ ttlMs: 60_000, touchAfterMs: 30_000 }), { maxAgeMs: 60_000 });
      const agent = request.agent(app);
      await agent.post("/login").expect(200);
      const before = await backend.commandCalls!();
      expect((await agent.get("/me").expect(200)).body.user).toBe("ada");
      expect(commandsBetween(before, await backend.commandCalls!())).toEqual({ get: 1 });
    });
  }

  if (kind !== "memory") {
    it("answers 503 (never a hung request) while the backend is down, and recovers by itself when it returns", async () => {
      const { app } = makeApp(backend.createStore({ timeoutMs: 500 }));
      const agent = request.agent(app);
      await agent.post("/login").expect(200);
      await backend.stop!();
      try {
        for (let i = 0; i < 3; i++) {
          // The supertest timeout turns a hung request into a failure.
          const response = await agent.get("/me").timeout(3000);
          expect(response.status).toBe(503);
          expect(["UNAVAILABLE", "TIMEOUT"]).toContain(response.body.code);
        }
      } finally {
        await backend.restart!();
      }
      // The restarted server is empty (no persistence), so recovery means: log in again and be served.
      await eventually("the store serves requests again", async () => (await agent.post("/login").timeout(3000)).status === 200);
      expect((await agent.get("/me").expect(200)).body.user).toBe("ada");
    });

    it("answers 503 (never a hung request) while the server hangs, and keeps the login when it answers again", async () => {
      const { app } = makeApp(backend.createStore({ timeoutMs: 500 }));
      const agent = request.agent(app);
      await agent.post("/login").expect(200);
      backend.pause!();
      try {
        const response = await agent.get("/me").timeout(3000);
        expect(response.status).toBe(503);
        expect(["UNAVAILABLE", "TIMEOUT"]).toContain(response.body.code);
      } finally {
        backend.resume!();
      }
      await eventually("the store serves requests again", async () => (await agent.get("/me").timeout(3000)).status === 200);
      expect((await agent.get("/me").expect(200)).body.user).toBe("ada");
    });

    it("with whenUnavailable 'continue', serves requests without a session while the backend is down", async () => {
      const { app, store } = makeApp(backend.createStore({ timeoutMs: 500 }), { store: { whenUnavailable: "continue" } });
      const agent = request.agent(app);
      await agent.post("/login").expect(200);
      const disconnected = new Promise((resolve) => store.once("disconnect", resolve));
      await backend.stop!();
      let connected: Promise<unknown> | undefined;
      try {
        // The request that discovers the outage may get a 503; after the disconnect event none does.
        const first = await agent.get("/me").timeout(3000);
        expect([200, 503]).toContain(first.status);
        await disconnected;
        connected = new Promise((resolve) => store.once("connect", resolve));
        expect((await agent.get("/me").timeout(3000).expect(200)).body).toMatchObject({ anonymous: true });
      } finally {
        await backend.restart!();
      }
      await connected;
      await agent.post("/login").timeout(3000).expect(200);
      expect((await agent.get("/me").expect(200)).body).toMatchObject({ anonymous: false, user: "ada" });
    });
  }
});

describe("createExpressStore options", () => {
  it("rejects unknown options and bad values with a CONFIG error naming the option", async () => {
    const backend = await startAdapterBackend("memory");
    try {
      const core = backend.createStore();
      expect(() => createExpressStore(core, { ttl: 5 } as never)).toThrow(/option "ttl"/);
      expect(() => createExpressStore(core, { whenUnavailable: "ignore" } as never)).toThrow(/whenUnavailable/);
      expect(() => createExpressStore({} as never)).toThrow(/createSessionStore/);
    } finally {
      await backend.dispose();
    }
  });
});

describe("the express store used directly (get, then createSession)", () => {
  // express-session calls createSession inside get's callback; a caller may also keep what get returned
  // and call createSession later. Either way the Session must stay linked to the record it was read
  // from, so a save merges with a concurrent change instead of overwriting it.
  for (const when of ["inside get's callback", "after get's callback returned"] as const) {
    it(`links the Session to its record when createSession runs ${when}`, async () => {
      const core = createSessionStore({ url: "memory://" });
      try {
        const store = createExpressStore(core);
        const id = `direct-${when.length}`;
        await core.set(id, { user: "ada", views: 1 });
        const req = { sessionID: id, sessionStore: store } as unknown as Request;
        const created = await new Promise<session.Session & Partial<session.SessionData>>((resolve, reject) => {
          store.get(id, (error, sess) => {
            if (error || !sess) return reject(error ?? new Error("no session"));
            if (when === "inside get's callback") resolve(store.createSession(req, sess));
            else setImmediate(() => resolve(store.createSession(req, sess)));
          });
        });
        expect(created.user).toBe("ada");
        // Another instance changes another field meanwhile.
        const other = (await core.load(id))!;
        await core.save(id, { ...other.data, user: "grace" }, { previous: other });
        created.views = 2;
        await new Promise<void>((resolve, reject) => store.set(id, created as unknown as session.SessionData, (error) => (error ? reject(error) : resolve())));
        expect(await core.get(id)).toEqual({ user: "grace", views: 2 });
      } finally {
        await core.close();
      }
    });
  }
});

describe("express-session on three memcached nodes, one of which dies", () => {
  let nodes: MemcachedServer[] = [];
  beforeAll(async () => {
    nodes = await startMemcachedNodes(3);
  });
  afterAll(async () => {
    await Promise.all(nodes.map((node) => node.dispose()));
  });

  it("shows the users whose sessions lived on the dead node a logged-out page, never an error page, and lets them log in again", async () => {
    const core = createSessionStore({ backend: memcachedBackend({ servers: nodes.map((node) => node.address) }), timeoutMs: 1000 });
    try {
      const { app } = makeApp(core);
      const cookies = await Promise.all(Array.from({ length: 30 }, async () => (await request(app).post("/login").expect(200)).headers["set-cookie"] as unknown as string[]));
      await nodes[1]!.stop();
      const pages = await Promise.all(cookies.map((cookie) => request(app).get("/me").set("Cookie", cookie)));
      expect(pages.map((page) => page.status)).toEqual(pages.map(() => 200));
      const loggedOut = pages.filter((page) => page.body.user === null);
      expect(loggedOut.length).toBeGreaterThan(0); // no replication: those sessions are gone with their node
      expect(pages.length - loggedOut.length).toBeGreaterThan(0); // the other nodes still serve theirs
      // A user who was logged out logs in again: the key goes to the next node, and the session works.
      const again = (await request(app).post("/login").expect(200)).headers["set-cookie"] as unknown as string[];
      expect((await request(app).get("/me").set("Cookie", again).expect(200)).body.user).toBe("ada");
    } finally {
      await core.close();
    }
  });
});
