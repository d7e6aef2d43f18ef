import { createServer, type RequestListener, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import session from "express-session";
import Fastify, { type FastifyInstance } from "fastify";
import Koa from "koa";
import koaSession from "koa-session";
import type { SessionStore } from "@sessionbridge/core";
import { createExpressStore, createKoaStore, expressCookie, sessionbridge } from "./security.adapters.js";

/**
 * The same small app on Express, Fastify and Koa, each on a real loopback port with its own store, for
 * the concurrency and cookie tests: login, read, set one field (optionally held at a gate), logout, and
 * "log out everywhere". One cookie works on all three (express-style `s:` signed `sid`).
 */

export const NAME = "sid";
const SECRET = "a test secret that is long enough for every framework";
const FIELDS = ["userId", "cart", "theme", ...Array.from({ length: 16 }, (_, i) => `f${i}`)];
export type Framework = "express" | "fastify" | "koa";

export interface Gate {
  entered: Promise<void>;
  enter: () => void;
  release: () => void;
  released: Promise<void>;
}

export function gate(): Gate {
  let enter!: () => void;
  let release!: () => void;
  const entered = new Promise<void>((resolve) => (enter = resolve));
  const released = new Promise<void>((resolve) => (release = resolve));
  return { entered, enter, released, release };
}

/** What every instance does, whatever its framework: the routes call these with the session's get/set. */
export interface Routes {
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

export interface Instance extends Routes {
  framework: Framework;
  url: string;
  close(): Promise<void>;
}

export async function start(framework: Framework, core: SessionStore): Promise<Instance> {
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

export async function call(target: Instance, method: "GET" | "POST", path: string, cookie?: string): Promise<{ status: number; body: Record<string, unknown>; cookie: string | undefined }> {
  const response = await fetch(target.url + path, { method, headers: cookie ? { cookie } : {} });
  const setCookie = response.headers.getSetCookie().find((c) => c.startsWith(`${NAME}=`));
  return { status: response.status, body: (await response.json()) as Record<string, unknown>, cookie: setCookie?.split(";")[0] };
}

