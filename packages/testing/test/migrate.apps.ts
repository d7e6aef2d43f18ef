import { createServer, type RequestListener } from "node:http";
import type { AddressInfo } from "node:net";
import fastifyCookie from "@fastify/cookie";
import fastifySession from "@fastify/session";
import express from "express";
import session from "express-session";
import Fastify, { type FastifyInstance } from "fastify";
import Koa from "koa";
import koaSession from "koa-session";
import type { SessionStore } from "@sessionbridge/core";

/**
 * One small app per framework for the migration tests, built either on an incumbent store (connect-redis,
 * koa-redis, connect-memjs, connect-memcached) or on ours: the same routes, the same cookie, the same
 * secret, so a browser that logged in on the incumbent's app can simply visit ours.
 */

export const SECRET = "a test secret that is long enough for every framework";
/** The incumbent's cookie maxAge: the migrated session must keep it. */
export const MAX_AGE_MS = 2 * 3_600_000;
export type Framework = "express" | "fastify" | "koa";

const load = async <T>(name: string): Promise<T> => (await import(/* @vite-ignore */ name)) as T;
const { createExpressStore } = await load<{ createExpressStore: (store: SessionStore) => session.Store }>("@sessionbridge/express");
const { sessionbridge } = await load<{ sessionbridge: (...args: never[]) => unknown }>("@sessionbridge/fastify");
const { createKoaStore } = await load<{ createKoaStore: (store: SessionStore) => unknown }>("@sessionbridge/koa");

/** What /me answers: who is logged in and the session's cookie expiry as the framework sees it. */
export interface Me {
  user: string | null;
  views: number;
  maxAgeMs: number | null;
  expiresAtMs: number | null;
}

export interface App {
  url: string;
  close(): Promise<void>;
}

/** The store an app runs on: an incumbent's framework store, or our core store (wrapped by our adapter). */
export type StoreChoice = { incumbent: unknown } | { ours: SessionStore };

function expressApp(choice: StoreChoice): RequestListener {
  const app = express();
  const store = "ours" in choice ? createExpressStore(choice.ours) : (choice.incumbent as session.Store);
  app.use(session({ store, secret: SECRET, name: "sid", resave: false, saveUninitialized: false, cookie: { maxAge: MAX_AGE_MS } }));
  const s = (req: express.Request) => req.session as unknown as Record<string, unknown>;
  app.post("/login", (req, res) => {
    s(req).user = "ada";
    s(req).views = 1;
    res.json({ ok: true });
  });
  app.post("/view", (req, res) => {
    s(req).views = Number(s(req).views ?? 0) + 1;
    res.json({ ok: true });
  });
  app.get("/me", (req, res) => {
    const cookie = req.session.cookie;
    res.json({ user: (s(req).user as string | undefined) ?? null, views: Number(s(req).views ?? 0), maxAgeMs: cookie.originalMaxAge ?? null, expiresAtMs: cookie.expires ? new Date(cookie.expires).getTime() : null } satisfies Me);
  });
  app.post("/logout", (req, res, next) => req.session.destroy((error) => (error ? next(error) : res.json({ ok: true }))));
  return app as unknown as RequestListener;
}

async function fastifyApp(choice: StoreChoice): Promise<FastifyInstance> {
  const app = Fastify();
  const options = { secret: SECRET, cookieName: "sid", saveUninitialized: false, rolling: false, cookie: { maxAge: MAX_AGE_MS, secure: false } };
  if ("ours" in choice) {
    await app.register(sessionbridge as never, { ...options, store: choice.ours, closeStore: false } as never);
  } else {
    await app.register(fastifyCookie);
    await app.register(fastifySession, { ...options, store: choice.incumbent as never });
  }
  const s = (request: { session: unknown }) => request.session as Record<string, unknown> & { cookie: { originalMaxAge: number | null; expires: Date | null } };
  app.post("/login", async (request) => {
    s(request).user = "ada";
    s(request).views = 1;
    return { ok: true };
  });
  app.post("/view", async (request) => {
    s(request).views = Number(s(request).views ?? 0) + 1;
    return { ok: true };
  });
  app.get("/me", async (request): Promise<Me> => {
    const cookie = s(request).cookie;
    return { user: (s(request).user as string | undefined) ?? null, views: Number(s(request).views ?? 0), maxAgeMs: cookie.originalMaxAge ?? null, expiresAtMs: cookie.expires ? new Date(cookie.expires).getTime() : null };
  });
  app.post("/logout", async (request) => {
    await (request.session as unknown as { destroy(): Promise<void> }).destroy();
    return { ok: true };
  });
  return app;
}

function koaApp(choice: StoreChoice): RequestListener {
  const app = new Koa();
  app.keys = [SECRET];
  const store = "ours" in choice ? createKoaStore(choice.ours) : choice.incumbent;
  app.use(koaSession({ key: "sid", maxAge: MAX_AGE_MS, store: store as never }, app));
  app.use(async (ctx) => {
    const s = ctx.session as unknown as Record<string, unknown> | null;
    if (ctx.method === "POST" && ctx.path === "/login") {
      (s as Record<string, unknown>).user = "ada";
      (s as Record<string, unknown>).views = 1;
      ctx.body = { ok: true };
    } else if (ctx.method === "POST" && ctx.path === "/view") {
      (s as Record<string, unknown>).views = Number(s?.views ?? 0) + 1;
      ctx.body = { ok: true };
    } else if (ctx.method === "GET" && ctx.path === "/me") {
      const expire = s?._expire;
      ctx.body = { user: (s?.user as string | undefined) ?? null, views: Number(s?.views ?? 0), maxAgeMs: (s as { maxAge?: number } | null)?.maxAge ?? null, expiresAtMs: typeof expire === "number" ? expire : null } satisfies Me;
    } else if (ctx.method === "POST" && ctx.path === "/logout") {
      ctx.session = null;
      ctx.body = { ok: true };
    }
  });
  return app.callback();
}

/** Starts the app on a loopback port. */
export async function startApp(framework: Framework, choice: StoreChoice): Promise<App> {
  if (framework === "fastify") {
    const app = await fastifyApp(choice);
    const url = await app.listen({ host: "127.0.0.1", port: 0 });
    return { url, close: () => app.close() };
  }
  const server = createServer(framework === "express" ? expressApp(choice) : koaApp(choice));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A browser: keeps the cookies it is given and sends them back, to whichever app it visits. */
export class Browser {
  readonly cookies = new Map<string, string>();

  async send<T = unknown>(app: App, method: "GET" | "POST", path: string): Promise<{ status: number; body: T }> {
    const headers: Record<string, string> = {};
    if (this.cookies.size > 0) headers.cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join("; ");
    const response = await fetch(app.url + path, { method, headers });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const at = (pair as string).indexOf("=");
      this.cookies.set((pair as string).slice(0, at), (pair as string).slice(at + 1));
    }
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : null) as T };
  }

  async me(app: App): Promise<Me> {
    const { status, body } = await this.send<Me>(app, "GET", "/me");
    if (status !== 200) throw new Error(`GET /me answered ${status}`);
    return body;
  }

  /** The session id in the cookie: express-session / @fastify/session sign it as `s:<id>.<sig>` or `<id>.<sig>`; koa-session keeps it plain. */
  sessionId(framework: Framework): string {
    const raw = decodeURIComponent(this.cookies.get("sid") ?? "");
    if (raw === "") throw new Error("no sid cookie");
    if (framework === "koa") return raw;
    const unsigned = raw.startsWith("s:") ? raw.slice(2) : raw;
    return unsigned.slice(0, unsigned.lastIndexOf("."));
  }
}
