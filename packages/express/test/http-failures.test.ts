import express, { type NextFunction, type Request, type Response } from "express";
import session from "express-session";
import Fastify from "fastify";
import Koa from "koa";
import koaSession from "koa-session";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSessionStore, type SessionStore } from "@sessionbridge/core";
import { sessionbridge } from "@sessionbridge/fastify";
import { createKoaStore } from "@sessionbridge/koa";
import { eventually, sessionIdFromCookie, signedCookieValue, startRedis, type RedisServer } from "@sessionbridge/testing";
import { createExpressStore, saveBeforeResponse } from "../src/index.js";

// What an HTTP client sees when the session store fails or a cookie names an id the store refuses, on
// each framework with its default error handling, against real redis-servers: stopped, paused (SIGSTOP),
// and reached with a wrong password.

const SECRET = "the secret every framework signs the session cookie with";
const TIMEOUT_MS = 500;

interface Reply {
  status: number;
  body: string;
  setCookie: string[];
}

interface App {
  /** One request; `id` sends a cookie naming that session id (signed where the framework signs). */
  call(method: "GET" | "POST", path: string, id?: string): Promise<Reply>;
  /** The errors the framework's error handling was given (Express error middleware, Fastify onError, Koa's 'error' event). */
  errors: unknown[];
  close(): Promise<void>;
}

type Framework = "express" | "fastify" | "koa";
const FRAMEWORKS: Framework[] = ["express", "fastify", "koa"];

function setCookies(header: unknown): string[] {
  return header === undefined ? [] : ([] as string[]).concat(header as string | string[]);
}

function expressApp(core: SessionStore): App {
  const errors: unknown[] = [];
  const app = express();
  app.use(session({ store: createExpressStore(core), secret: SECRET, name: "sid", resave: false, saveUninitialized: false }));
  app.use(saveBeforeResponse());
  const data = (req: Request) => req.session as unknown as Record<string, unknown>;
  app.get("/me", (req, res) => void res.json({ user: data(req).user ?? null }));
  app.post("/visit", (req, res) => {
    data(req).views = ((data(req).views as number | undefined) ?? 0) + 1;
    res.json({ ok: true });
  });
  app.post("/login", (req, res, next) =>
    req.session.regenerate((error) => {
      if (error) return next(error);
      data(req).user = "ada";
      res.json({ ok: true });
    }),
  );
  // Records what the error handling sees, then leaves the answer to Express's default handler.
  app.use((error: unknown, _req: Request, _res: Response, next: NextFunction) => {
    errors.push(error);
    next(error);
  });
  return {
    errors,
    async call(method, path, id) {
      const r = await (method === "GET" ? request(app).get(path) : request(app).post(path)).set("Cookie", id === undefined ? "" : `sid=${signedCookieValue(id, SECRET)}`);
      return { status: r.status, body: r.text, setCookie: setCookies(r.headers["set-cookie"]) };
    },
    close: async () => undefined,
  };
}

async function fastifyApp(core: SessionStore): Promise<App> {
  const errors: unknown[] = [];
  const app = Fastify();
  await app.register(sessionbridge, { store: core, secret: SECRET, cookieName: "sid", cookiePrefix: "s:", cookie: { secure: false }, saveUninitialized: false, closeStore: false });
  type S = { get(k: string): unknown; set(k: string, v: unknown): void; regenerate(): Promise<void> };
  const s = (req: unknown) => (req as { session: S }).session;
  app.addHook("onError", (_request, _reply, error, done) => {
    errors.push(error);
    done();
  });
  app.get("/me", async (req) => ({ user: s(req).get("user") ?? null }));
  app.post("/visit", async (req) => {
    s(req).set("views", ((s(req).get("views") as number | undefined) ?? 0) + 1);
    return { ok: true };
  });
  app.post("/login", async (req) => {
    await s(req).regenerate();
    s(req).set("user", "ada");
    return { ok: true };
  });
  await app.ready();
  return {
    errors,
    async call(method, path, id) {
      const r = await app.inject({ method, url: path, headers: id === undefined ? {} : { cookie: `sid=${signedCookieValue(id, SECRET)}` } });
      return { status: r.statusCode, body: r.body, setCookie: setCookies(r.headers["set-cookie"]) };
    },
    close: () => app.close(),
  };
}

/** koa-session's own cookie, unsigned (`signed: false`): the client picks the id. */
function koaApp(core: SessionStore): App {
  const errors: unknown[] = [];
  const app = new Koa();
  app.on("error", (error: unknown) => errors.push(error));
  app.use(koaSession({ key: "ksid", signed: false, store: createKoaStore(core) } as Parameters<typeof koaSession>[0], app));
  app.use(async (ctx) => {
    const s = ctx.session as unknown as Record<string, unknown> & { regenerate(): Promise<void> };
    if (ctx.path === "/login") {
      // koa-session's regenerate keeps the data, under a new id.
      s.user = "ada";
      await s.regenerate();
    } else if (ctx.path === "/visit") {
      s.views = ((s.views as number | undefined) ?? 0) + 1;
    }
    ctx.body = { user: s.user ?? null };
  });
  const server = app.callback();
  return {
    errors,
    async call(method, path, id) {
      const r = await (method === "GET" ? request(server).get(path) : request(server).post(path)).set("Cookie", id === undefined ? "" : `ksid=${id}`);
      return { status: r.status, body: r.text, setCookie: setCookies(r.headers["set-cookie"]) };
    },
    close: async () => undefined,
  };
}

function makeApp(framework: Framework, core: SessionStore): Promise<App> | App {
  return framework === "express" ? expressApp(core) : framework === "fastify" ? fastifyApp(core) : koaApp(core);
}

/** The cookie name each app uses. */
const COOKIE: Record<Framework, string> = { express: "sid", fastify: "sid", koa: "ksid" };

/** Asserts that a response body names nothing of the backend: no host, port, user, or the backend's own error. */
function expectNoBackendDetails(body: string, server: RedisServer): void {
  expect(body).not.toContain(server.host);
  expect(body).not.toMatch(new RegExp(`\\b${server.port}\\b`));
  for (const detail of ["ECONNREFUSED", "WRONGPASS", "default", "authentication", "redis", "db 0"]) expect(body.toLowerCase()).not.toContain(detail.toLowerCase());
}

/** The error behind what the framework was given: its `cause` keeps the backend's label. */
function expectDetailInCause(errors: unknown[], server: RedisServer): void {
  expect(errors.length).toBeGreaterThan(0);
  for (const error of errors) {
    const cause = (error as { cause?: { message?: string } }).cause;
    expect(cause?.message).toContain(`${server.host}:${server.port}`);
  }
}

describe("a working redis-server", () => {
  let server: RedisServer;
  const stores: SessionStore[] = [];
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await server?.dispose();
  });

  // "~u." is the per-user index's prefix; 4,000 characters is past the 256 a session id may have.
  for (const framework of FRAMEWORKS) {
    it(`${framework}: a cookie naming an id the store refuses starts a new session (200), never a 500 or an error`, async () => {
      const core = createSessionStore({ url: server.url });
      stores.push(core);
      const app = await makeApp(framework, core);
      try {
        for (const id of ["~u.abc", "x".repeat(4000)]) {
          const read = await app.call("GET", "/me", id);
          expect(read.status).toBe(200);
          expect(JSON.parse(read.body)).toEqual({ user: null });
          const write = await app.call("POST", "/visit", id);
          expect(write.status).toBe(200);
          const cookie = write.setCookie.find((c) => c.startsWith(`${COOKIE[framework]}=`));
          expect(cookie, "a new session's cookie").toBeDefined();
          expect(cookie).not.toContain("~u.");
          expect(cookie!.length).toBeLessThan(400);
        }
        expect(app.errors).toEqual([]);
      } finally {
        await app.close();
      }
    });
  }

  it("express with saveBeforeResponse(): stores a new session before its cookie is sent, and keeps an unchanged one as express-session does", async () => {
    const core = createSessionStore({ url: server.url, timeoutMs: TIMEOUT_MS });
    stores.push(core);
    const app = expressApp(core);
    const login = await app.call("POST", "/login");
    expect(login.status).toBe(200);
    const id = sessionIdFromCookie("sid", login.setCookie);
    expect((await core.load(id))?.data).toMatchObject({ user: "ada" });
    const me = await app.call("GET", "/me", id);
    expect(JSON.parse(me.body)).toEqual({ user: "ada" });
    expect(app.errors).toEqual([]);
  });
});

describe.each([
  { failure: "stopped", status: 503 },
  { failure: "paused (SIGSTOP)", status: 503 },
  { failure: "reached with a wrong password", status: 500 },
] as const)("a redis-server $failure", ({ failure, status }) => {
  let server: RedisServer;
  const stores: SessionStore[] = [];
  const wrongPassword = failure === "reached with a wrong password";
  /** A store that was working (connected) before the failure, as in a running application. */
  const newStore = async () => {
    const url = wrongPassword ? `redis://:not-the-password@${server.host}:${server.port}` : server.url;
    const store = createSessionStore({ url, timeoutMs: TIMEOUT_MS });
    store.on("error", () => undefined);
    stores.push(store);
    if (!wrongPassword) await store.ping();
    return store;
  };
  const fail = async () => {
    if (failure === "stopped") await server.stop();
    if (failure === "paused (SIGSTOP)") server.pause();
  };
  const recover = async () => {
    if (failure === "stopped") await server.restart();
    if (failure === "paused (SIGSTOP)") server.resume();
  };
  beforeAll(async () => {
    server = wrongPassword ? await startRedis({ kind: "requirepass", password: "the-right-password" }) : await startRedis();
  });
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await server?.dispose();
  });

  for (const framework of FRAMEWORKS) {
    it(`${framework}: answers ${status} with a body that names nothing of the backend; the error's cause keeps the detail`, async () => {
      const app = await makeApp(framework, await newStore());
      await fail();
      try {
        // A visitor with a cookie (the read fails) and one without whose new session is written.
        for (const [method, path, id] of [["GET", "/me", "someone"], ["POST", "/visit", undefined]] as const) {
          const reply = await app.call(method, path, id);
          expect(reply.status, `${method} ${path}`).toBe(status);
          expectNoBackendDetails(reply.body, server);
          expect(reply.setCookie.filter((c) => c.startsWith(`${COOKIE[framework]}=`) && !c.includes("Expires=Thu, 01 Jan 1970")), "no cookie for a session that was not stored").toEqual([]);
        }
        expectDetailInCause(app.errors, server);
      } finally {
        await recover();
        await app.close();
      }
    });
  }

  if (failure === "paused (SIGSTOP)") {
    for (const framework of FRAMEWORKS) {
      // A login without a cookie makes two store operations (destroy the pre-login id, write the new
      // session). Each has its own deadline; the request's budget lets only the first wait for it.
      it(`${framework}: a login without a cookie waits for the hung store once, not once per store operation`, async () => {
        const core = await newStore();
        const failed: string[] = [];
        let inFlight = 0;
        const counted = new Proxy(core, {
          get(target, property) {
            const value = Reflect.get(target, property, target) as unknown;
            if (typeof value !== "function") return value;
            if (!["load", "get", "save", "set", "touch", "destroy"].includes(property as string)) return value.bind(target);
            return (...args: unknown[]) => {
              inFlight++;
              return (value.apply(target, args) as Promise<unknown>).then(
                (result) => {
                  inFlight--;
                  return result;
                },
                (error: { code?: string }) => {
                  inFlight--;
                  failed.push(`${property as string}: ${error?.code}`);
                  throw error;
                },
              );
            };
          },
        });
        const app = await makeApp(framework, counted);
        await fail();
        try {
          const reply = await app.call("POST", "/login");
          expect(reply.status).toBe(503);
          // Operations still running after the response (express-session saves after it) count too.
          await eventually("every store operation of the request settled", () => inFlight === 0);
          expect(failed).toEqual(["destroy: TIMEOUT"]);
          expect(app.errors, "the error handling ran once").toHaveLength(1);
        } finally {
          await recover();
          await app.close();
        }
      });
    }
  }
});
