import express from "express";
import session from "express-session";
import Fastify, { type FastifyInstance } from "fastify";
import Koa from "koa";
import koaSession from "koa-session";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionStore } from "@sessionbridge/core";
import { sessionbridge } from "@sessionbridge/fastify";
import { createKoaStore, expressCookie } from "@sessionbridge/koa";
import { ADAPTER_BACKENDS, cookieHeader, sessionIdFromCookie, sleep, startAdapterBackend, type AdapterBackend } from "@sessionbridge/testing";
import { createExpressStore } from "../src/index.js";

// The one configuration docs/cross-framework.md documents: same cookie name, same secret, "s:" signed cookie.
const NAME = "sid";
const SECRET = "the secret every framework signs the session cookie with";
const MAX_AGE_MS = 3_600_000;

interface Me {
  user: string | null;
  views: number;
  /** When the framework thinks the session expires (epoch ms). */
  expiresAtMs: number | null;
}

/** A client of one framework: the same three routes everywhere. */
interface Client {
  name: string;
  call(method: "GET" | "POST", path: string, cookie?: string): Promise<{ body: Me; setCookie: string[] | undefined }>;
}

function expressClient(core: SessionStore): Client {
  const app = express();
  app.use(session({ store: createExpressStore(core), secret: SECRET, name: NAME, resave: false, saveUninitialized: false, cookie: { maxAge: MAX_AGE_MS } }));
  const me = (req: express.Request): Me => {
    const s = req.session as unknown as Record<string, unknown> & { cookie: { expires?: Date } };
    return { user: (s.user as string) ?? null, views: (s.views as number) ?? 0, expiresAtMs: s.cookie.expires?.getTime() ?? null };
  };
  app.get("/me", (req, res) => res.json(me(req)));
  app.post("/login", (req, res, next) =>
    req.session.regenerate((error) => {
      if (error) return next(error);
      (req.session as unknown as Record<string, unknown>).user = "ada";
      res.json(me(req));
    }),
  );
  app.post("/view", (req, res) => {
    const s = req.session as unknown as Record<string, number>;
    s.views = (s.views ?? 0) + 1;
    res.json(me(req));
  });
  return {
    name: "express",
    async call(method, path, cookie) {
      const r = await (method === "GET" ? request(app).get(path) : request(app).post(path)).set("Cookie", cookie ?? "").expect(200);
      return { body: r.body as Me, setCookie: r.headers["set-cookie"] as unknown as string[] | undefined };
    },
  };
}

async function fastifyClient(core: SessionStore, apps: FastifyInstance[]): Promise<Client> {
  const app = Fastify();
  apps.push(app);
  await app.register(sessionbridge, { store: core, secret: SECRET, cookieName: NAME, cookiePrefix: "s:", cookie: { maxAge: MAX_AGE_MS, secure: false }, saveUninitialized: false, closeStore: false });
  const me = (req: { session: { get(k: string): unknown; cookie: { expires?: Date | null } } }): Me => ({
    user: (req.session.get("user") as string) ?? null,
    views: (req.session.get("views") as number) ?? 0,
    expiresAtMs: req.session.cookie.expires?.getTime() ?? null,
  });
  app.get("/me", async (req) => me(req as never));
  app.post("/login", async (req) => {
    await req.session.regenerate();
    (req.session as unknown as { set(k: string, v: unknown): void }).set("user", "ada");
    return me(req as never);
  });
  app.post("/view", async (req) => {
    const s = req.session as unknown as { get(k: string): unknown; set(k: string, v: unknown): void };
    s.set("views", ((s.get("views") as number) ?? 0) + 1);
    return me(req as never);
  });
  await app.ready();
  return {
    name: "fastify",
    async call(method, path, cookie) {
      const r = await app.inject({ method, url: path, headers: cookie ? { cookie } : {} });
      expect(r.statusCode).toBe(200);
      const setCookie = r.headers["set-cookie"];
      return { body: r.json() as Me, setCookie: setCookie === undefined ? undefined : ([] as string[]).concat(setCookie) };
    },
  };
}

function koaClient(core: SessionStore): Client {
  const app = new Koa();
  const options: Parameters<typeof koaSession>[0] = { key: NAME, signed: false, maxAge: MAX_AGE_MS, store: createKoaStore(core), externalKey: expressCookie({ name: NAME, secret: SECRET }) };
  app.use(koaSession(options, app));
  app.use(async (ctx) => {
    const s = ctx.session as unknown as Record<string, unknown> & { regenerate(): Promise<void>; _expire?: number };
    if (ctx.path === "/login") {
      await s.regenerate();
      s.user = "ada";
    } else if (ctx.path === "/view") {
      s.views = ((s.views as number) ?? 0) + 1;
    }
    ctx.body = { user: (s.user as string) ?? null, views: (s.views as number) ?? 0, expiresAtMs: s._expire ?? null } satisfies Me;
  });
  const server = app.callback();
  return {
    name: "koa",
    async call(method, path, cookie) {
      const r = await (method === "GET" ? request(server).get(path) : request(server).post(path)).set("Cookie", cookie ?? "").expect(200);
      return { body: r.body as Me, setCookie: r.headers["set-cookie"] as unknown as string[] | undefined };
    },
  };
}

describe.each(ADAPTER_BACKENDS)("one session across Express, Fastify and Koa on the %s backend", (kind) => {
  let backend: AdapterBackend;
  let core: SessionStore;
  let clients: Record<"express" | "fastify" | "koa", Client>;
  const apps: FastifyInstance[] = [];

  beforeAll(async () => {
    backend = await startAdapterBackend(kind);
    core = backend.createStore();
    // Each framework has its own core store (its own connection), as separate instances would.
    clients = { express: expressClient(backend.createStore()), fastify: await fastifyClient(backend.createStore(), apps), koa: koaClient(backend.createStore()) };
  });
  afterAll(async () => {
    await Promise.all(apps.map((a) => a.close()));
    await backend?.dispose();
  });

  it("logs in through Express, reads through Fastify and Koa, changes it in Koa and sees the change in Express", async () => {
    const login = await clients.express.call("POST", "/login");
    const cookie = cookieHeader(login.setCookie);
    const id = sessionIdFromCookie(NAME, login.setCookie);
    const created = (await core.load(id))!.createdAtMs;

    const viaFastify = await clients.fastify.call("GET", "/me", cookie);
    expect(viaFastify.body).toMatchObject({ user: "ada", views: 0 });
    const viaKoa = await clients.koa.call("GET", "/me", cookie);
    expect(viaKoa.body).toMatchObject({ user: "ada", views: 0 });

    const changed = await clients.koa.call("POST", "/view", cookie);
    expect(changed.body.views).toBe(1);
    // The cookie Koa sent back is the same express-style signed cookie for the same session.
    expect(sessionIdFromCookie(NAME, changed.setCookie)).toBe(id);

    expect((await clients.express.call("GET", "/me", cookieHeader(changed.setCookie))).body).toMatchObject({ user: "ada", views: 1 });
    const record = await core.load(id);
    expect(record).toMatchObject({ data: { user: "ada", views: 1 }, createdAtMs: created, ttlMs: MAX_AGE_MS });
  });

  for (const origin of ["express", "fastify", "koa"] as const) {
    it(`reads a session created through ${origin} with the same data, creation time and expiry everywhere`, async () => {
      const login = await clients[origin].call("POST", "/login");
      const cookie = cookieHeader(login.setCookie);
      const id = sessionIdFromCookie(NAME, login.setCookie);
      const before = (await core.load(id))!;
      for (const reader of Object.values(clients)) {
        const { body } = await reader.call("GET", "/me", cookie);
        const record = (await core.load(id))!;
        expect(body.user, reader.name).toBe("ada");
        expect(record.createdAtMs, reader.name).toBe(before.createdAtMs);
        // Each framework rebuilds its expiry from the record: within a few seconds of the record's own.
        expect(Math.abs((body.expiresAtMs ?? 0) - record.expiresAtMs), reader.name).toBeLessThan(5_000);
      }
    });
  }
});

describe.each(ADAPTER_BACKENDS)("the absolute lifetime (maxLifetimeMs) on every framework, on the %s backend", (kind) => {
  const LIFETIME_MS = 2_000;
  let backend: AdapterBackend;
  const apps: FastifyInstance[] = [];

  beforeAll(async () => {
    backend = await startAdapterBackend(kind);
  });
  afterAll(async () => {
    await Promise.all(apps.map((a) => a.close()));
    await backend?.dispose();
  });

  it("ends a session that is in use once maxLifetimeMs has passed since login, whichever framework serves it", async () => {
    const store = () => backend.createStore({ maxLifetimeMs: LIFETIME_MS });
    const clients = [expressClient(store()), await fastifyClient(store(), apps), koaClient(store())];
    await Promise.all(
      clients.map(async (client) => {
        const cookie = cookieHeader((await client.call("POST", "/login")).setCookie);
        // Active use slides the idle timeout (one hour) but not the absolute lifetime.
        for (let i = 0; i < 3; i++) {
          expect((await client.call("POST", "/view", cookie)).body, client.name).toMatchObject({ user: "ada", views: i + 1 });
          await sleep(LIFETIME_MS / 4);
        }
        await sleep(LIFETIME_MS / 4 + 300);
        expect((await client.call("GET", "/me", cookie)).body, client.name).toMatchObject({ user: null, views: 0 });
      }),
    );
  });
});
