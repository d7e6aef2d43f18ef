import { createServer, type RequestListener, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import session from "express-session";
import Fastify, { type FastifyInstance } from "fastify";
import Koa from "koa";
import koaSession from "koa-session";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { SessionStore } from "@sessionbridge/core";
import { ADAPTER_BACKENDS, startAdapterBackend, type AdapterBackend } from "../src/adapter-backends.js";
import { createExpressStore, createKoaStore, expressCookie, sessionbridge } from "./security.adapters.js";

/**
 * Logouts that stick and concurrent updates, proven with real concurrent HTTP requests through every
 * adapter: an Express, a Fastify and a Koa instance (each with its own store and connection, like
 * instances behind a load balancer) share one backend and one cookie. A request is held open at a gate
 * after its framework loaded the session, while a request on another instance logs out or changes the
 * session; then it is released, and what its framework saved is observed.
 */

const NAME = "sid";
const SECRET = "a test secret that is long enough for every framework";
const FIELDS = ["userId", "cart", "theme", ...Array.from({ length: 16 }, (_, i) => `f${i}`)];
type Framework = "express" | "fastify" | "koa";

interface Gate {
  entered: Promise<void>;
  enter: () => void;
  release: () => void;
  released: Promise<void>;
}

function gate(): Gate {
  let enter!: () => void;
  let release!: () => void;
  const entered = new Promise<void>((resolve) => (enter = resolve));
  const released = new Promise<void>((resolve) => (release = resolve));
  return { entered, enter, released, release };
}

/** What every instance does, whatever its framework: the routes call these with the session's get/set. */
interface Routes {
  core: SessionStore;
  gates: Map<string, Gate>;
  /** Failed saves: express-session saves after the handler answered, so those never show as a status. */
  errors: Array<{ code?: string }>;
}

async function held(routes: Routes, name: unknown): Promise<void> {
  const waiting = typeof name === "string" ? routes.gates.get(name) : undefined;
  if (!waiting) return;
  waiting.enter();
  await waiting.released;
}

const pick = (get: (field: string) => unknown) => Object.fromEntries(FIELDS.map((f) => [f, get(f)]).filter(([, v]) => v !== undefined));

function expressApp(routes: Routes): RequestListener {
  const app = express();
  app.use(session({ store: createExpressStore(routes.core), secret: SECRET, name: NAME, resave: false, saveUninitialized: false }));
  const s = (req: express.Request) => req.session as unknown as Record<string, unknown>;
  app.post("/login/:user", (req, res, next) =>
    req.session.regenerate((error) => {
      if (error) return next(error);
      s(req).userId = req.params.user;
      res.json({ ok: true });
    }),
  );
  app.get("/me", (req, res) => res.json(pick((f) => s(req)[f])));
  app.post("/set/:field/:value", async (req, res) => {
    await held(routes, req.query.gate);
    s(req)[String(req.params.field)] = req.params.value;
    res.json({ ok: true });
  });
  app.post("/logout", (req, res, next) => req.session.destroy((error) => (error ? next(error) : res.json({ ok: true }))));
  app.post("/logout-everywhere", async (req, res) => res.json({ destroyed: await routes.core.destroySessionsOf(String(s(req).userId)) }));
  app.use((error: { code?: string }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    routes.errors.push(error);
    if (!res.headersSent) res.status(500).json({ code: error.code });
  });
  return app as unknown as RequestListener;
}

async function fastifyApp(routes: Routes): Promise<FastifyInstance> {
  const app = Fastify();
  await app.register(sessionbridge as never, { store: routes.core, secret: SECRET, cookieName: NAME, cookiePrefix: "s:", cookie: { secure: false }, saveUninitialized: false, rolling: false, closeStore: false });
  type S = { get(k: string): unknown; set(k: string, v: unknown): void; regenerate(): Promise<void>; destroy(): Promise<void> };
  const s = (req: unknown) => (req as { session: S }).session;
  app.post("/login/:user", async (req) => {
    await s(req).regenerate();
    s(req).set("userId", (req.params as { user: string }).user);
    return { ok: true };
  });
  app.get("/me", async (req) => pick((f) => s(req).get(f)));
  app.post("/set/:field/:value", async (req) => {
    await held(routes, (req.query as { gate?: string }).gate);
    const { field, value } = req.params as { field: string; value: string };
    s(req).set(field, value);
    return { ok: true };
  });
  app.post("/logout", async (req) => {
    await s(req).destroy();
    return { ok: true };
  });
  app.post("/logout-everywhere", async (req) => ({ destroyed: await routes.core.destroySessionsOf(String(s(req).get("userId"))) }));
  app.setErrorHandler((error: { code?: string }, _req, reply) => {
    routes.errors.push(error);
    void reply.status(500).send({ code: error.code });
  });
  return app;
}

function koaApp(routes: Routes): RequestListener {
  const app = new Koa();
  app.silent = true;
  app.on("error", (error: { code?: string }) => routes.errors.push(error));
  app.use(koaSession({ key: NAME, signed: false, store: createKoaStore(routes.core), externalKey: expressCookie({ name: NAME, secret: SECRET }) } as never, app));
  app.use(async (ctx) => {
    const s = ctx.session as unknown as Record<string, unknown> & { regenerate(): Promise<void> };
    let match: RegExpExecArray | null;
    if ((match = /^\/login\/(.+)$/.exec(ctx.path))) {
      await s.regenerate();
      s.userId = match[1];
      ctx.body = { ok: true };
    } else if (ctx.path === "/me") {
      ctx.body = pick((f) => s[f]);
    } else if ((match = /^\/set\/([^/]+)\/([^/]+)$/.exec(ctx.path))) {
      await held(routes, ctx.query.gate);
      s[match[1]!] = match[2];
      ctx.body = { ok: true };
    } else if (ctx.path === "/logout") {
      ctx.session = null;
      ctx.body = { ok: true };
    } else if (ctx.path === "/logout-everywhere") {
      ctx.body = { destroyed: await routes.core.destroySessionsOf(String(s.userId)) };
    }
  });
  return app.callback() as unknown as RequestListener;
}

interface Instance extends Routes {
  framework: Framework;
  url: string;
  close(): Promise<void>;
}

async function start(framework: Framework, core: SessionStore): Promise<Instance> {
  const routes: Routes = { core, gates: new Map(), errors: [] };
  if (framework === "fastify") {
    const app = await fastifyApp(routes);
    const address = await app.listen({ port: 0, host: "127.0.0.1" });
    return { ...routes, framework, url: address, close: () => app.close() };
  }
  const server: Server = createServer(framework === "express" ? expressApp(routes) : koaApp(routes));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { ...routes, framework, url, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

async function call(target: Instance, method: "GET" | "POST", path: string, cookie?: string): Promise<{ status: number; body: Record<string, unknown>; cookie: string | undefined }> {
  const response = await fetch(target.url + path, { method, headers: cookie ? { cookie } : {} });
  const setCookie = response.headers.getSetCookie().find((c) => c.startsWith(`${NAME}=`));
  return { status: response.status, body: (await response.json()) as Record<string, unknown>, cookie: setCookie?.split(";")[0] };
}

/** Two requests that both load the same version of the session before either writes; the first writes first. */
async function race(first: [Instance, string], second: [Instance, string], cookie: string): Promise<void> {
  const gates = [gate(), gate()] as const;
  first[0].gates.set("race", gates[0]);
  second[0].gates.set("race", gates[1]);
  const requests = [call(first[0], "POST", `${first[1]}?gate=race`, cookie), call(second[0], "POST", `${second[1]}?gate=race`, cookie)] as const;
  await Promise.all([gates[0].entered, gates[1].entered]);
  gates[0].release();
  expect((await requests[0]).status).toBe(200);
  gates[1].release();
  expect((await requests[1]).status).toBe(200);
}

/** [instance holding a request, instance doing the other thing]: every framework plays both roles. */
const PAIRS: Array<[Framework, Framework]> = [
  ["express", "fastify"],
  ["fastify", "koa"],
  ["koa", "express"],
];

const instances: Instance[] = [];
afterEach(async () => {
  await Promise.all(instances.splice(0).map((instance) => instance.close()));
});

describe.each(ADAPTER_BACKENDS)("concurrent requests through the adapters on %s", (kind) => {
  let backend: AdapterBackend;
  beforeAll(async () => {
    backend = await startAdapterBackend(kind);
  });
  afterAll(async () => {
    await backend?.dispose();
  });
  const open = async (framework: Framework) => {
    const instance = await start(framework, backend.createStore({ userIdFrom: (d) => d.userId }));
    instances.push(instance);
    return instance;
  };

  it.each(PAIRS)("does not write back a session logged out while a request held it (%s holds, %s logs out)", async (holder, other) => {
    const [a, b] = [await open(holder), await open(other)];
    const cookie = (await call(a, "POST", "/login/ada")).cookie!;
    const waiting = gate();
    a.gates.set("slow", waiting);
    const slow = call(a, "POST", "/set/cart/full?gate=slow", cookie);
    await waiting.entered;
    expect((await call(b, "POST", "/logout", cookie)).status).toBe(200);
    waiting.release();
    await slow;
    // The in-flight write did not resurrect the session, seen from either instance.
    expect((await call(a, "GET", "/me", cookie)).body).toEqual({});
    expect((await call(b, "GET", "/me", cookie)).body).toEqual({});
  });

  it.each(PAIRS)("does not write back a session revoked by 'log out everywhere' while a request held it (%s holds, %s revokes)", async (holder, other) => {
    const [a, b] = [await open(holder), await open(other)];
    if (!a.core.backend.capabilities.userIndex) {
      // Memcached: no per-user index, and it says so.
      await expect(a.core.sessionsOf("ada")).rejects.toMatchObject({ code: "UNSUPPORTED" });
      return;
    }
    const phone = (await call(a, "POST", "/login/ada")).cookie!;
    const laptop = (await call(b, "POST", "/login/ada")).cookie!;
    const waiting = gate();
    a.gates.set("slow", waiting);
    const slow = call(a, "POST", "/set/cart/full?gate=slow", phone);
    await waiting.entered;
    expect((await call(b, "POST", "/logout-everywhere", laptop)).body).toEqual({ destroyed: 2 });
    waiting.release();
    await slow;
    expect((await call(b, "GET", "/me", phone)).body).toEqual({});
    expect((await call(a, "GET", "/me", laptop)).body).toEqual({});
  });

  it.each(PAIRS)("keeps both of two concurrent requests that change different fields (%s, then %s)", async (first, second) => {
    const [a, b] = [await open(first), await open(second)];
    const cookie = (await call(a, "POST", "/login/ada")).cookie!;
    await race([a, "/set/theme/dark"], [b, "/set/cart/3-items"], cookie);
    expect((await call(a, "GET", "/me", cookie)).body).toEqual({ userId: "ada", theme: "dark", cart: "3-items" });
  });

  it.each(PAIRS)("on a clash over one field, the later write wins and a 'conflict' event names it (%s, then %s)", async (first, second) => {
    const [a, b] = [await open(first), await open(second)];
    const conflicts: string[][] = [];
    b.core.on("conflict", ({ fields }) => conflicts.push(fields));
    const cookie = (await call(a, "POST", "/login/ada")).cookie!;
    await race([a, "/set/theme/dark"], [b, "/set/theme/light"], cookie);
    expect((await call(a, "GET", "/me", cookie)).body).toMatchObject({ theme: "light" });
    expect(conflicts).toEqual([["theme"]]);
  });

  it("loses no field when many requests on all three frameworks change one session at once", async () => {
    const all = [await open("express"), await open("fastify"), await open("koa"), await open("express"), await open("fastify"), await open("koa")];
    const cookie = (await call(all[0]!, "POST", "/login/ada")).cookie!;
    const results = await Promise.all(Array.from({ length: 16 }, (_, i) => call(all[i % all.length]!, "POST", `/set/f${i}/v${i}`, cookie)));
    // A save that loses more races than the store retries within timeoutMs fails with CONFLICT (an
    // error the app sees) instead of losing the field silently.
    const errors = all.flatMap((instance) => instance.errors);
    expect(errors.map((error) => error.code).filter((code) => code !== "CONFLICT")).toEqual([]);
    const failed = results.filter((r) => r.status !== 200).length + all.filter((i) => i.framework === "express").flatMap((i) => i.errors).length;
    const body = (await call(all[1]!, "GET", "/me", cookie)).body;
    const kept = Array.from({ length: 16 }, (_, i) => body[`f${i}`] === `v${i}`).filter(Boolean).length;
    expect(kept + failed).toBe(16);
  });
});
