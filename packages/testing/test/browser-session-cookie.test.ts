import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createHmac } from "node:crypto";
import fastifyCookie from "@fastify/cookie";
import fastifySession from "@fastify/session";
import Fastify, { type FastifyInstance } from "fastify";
import Koa from "koa";
import koaSession from "koa-session";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionStore } from "@sessionbridge/core";
import type session from "express-session";
import { cookieHeader, sessionIdFromCookie, startAdapterBackend, type AdapterBackend } from "../src/index.js";

// The adapters depend on this package (for their tests), so they are loaded by name, as in migrate.apps.ts.
type Callback = (error?: unknown) => void;
const load = async <T>(name: string): Promise<T> => (await import(/* @vite-ignore */ name)) as T;
const { createExpressStore } = await load<{ createExpressStore: (store: SessionStore) => session.Store }>("@sessionbridge/express");
const { createFastifyStore } = await load<{ createFastifyStore: (store: SessionStore) => { set(id: string, session: object, callback: Callback): void } }>("@sessionbridge/fastify");
const { createKoaStore } = await load<{ createKoaStore: (store: SessionStore) => unknown }>("@sessionbridge/koa");

/**
 * Issue 11 item 12: a drop-in store must not change the cookie. A session whose cookie ends with the
 * browser session (no maxAge) is recorded as such, and every adapter rebuilds that cookie when it reads
 * the session back (the TTL on the server is the store's either way).
 */
const SECRET = "a test secret that is long enough for every framework";
const expiresOf = (setCookie: string | string[] | undefined, name: string) => ([] as string[]).concat(setCookie ?? []).find((c) => c.startsWith(`${name}=`));

async function bareFastify(core: SessionStore, maxAgeMs?: number): Promise<FastifyInstance> {
  const app = Fastify();
  await app.register(fastifyCookie);
  // The bare store, without the plugin and without its browserSessionCookie option.
  await app.register(fastifySession, { store: createFastifyStore(core) as never, secret: SECRET, cookieName: "sid", cookiePrefix: "s:", saveUninitialized: false, cookie: { secure: false, ...(maxAgeMs === undefined ? {} : { maxAge: maxAgeMs }) } });
  app.post("/login", async (request) => {
    request.session.set("user" as never, "ada" as never);
    return { ok: true };
  });
  app.get("/me", async (request) => ({ user: request.session.get("user" as never) ?? null }));
  await app.ready();
  return app;
}

describe("browser-session cookies stay browser-session cookies (redis)", () => {
  let backend: AdapterBackend;
  const closers: Array<() => Promise<unknown>> = [];
  beforeAll(async () => {
    backend = await startAdapterBackend("redis");
  });
  afterAll(async () => {
    for (const close of closers) await close();
    await backend?.dispose();
  });

  it("@fastify/session's bare store: read back, the cookie still has no Expires; the record says so", async () => {
    const core = backend.createStore({ ttlMs: 60_000 });
    const app = await bareFastify(core);
    closers.push(() => app.close());
    const login = await app.inject({ method: "POST", url: "/login" });
    expect(expiresOf(login.headers["set-cookie"], "sid")).not.toMatch(/Expires=|Max-Age=/i);
    const again = await app.inject({ url: "/me", headers: { cookie: cookieHeader(login.headers["set-cookie"]) } });
    expect(again.json()).toEqual({ user: "ada" });
    const resent = expiresOf(again.headers["set-cookie"], "sid"); // rolling (@fastify/session's default) sends it again
    expect(resent).toBeDefined();
    expect(resent).not.toMatch(/Expires=|Max-Age=/i);
    const loaded = await core.load(sessionIdFromCookie("sid", login.headers["set-cookie"]));
    expect(loaded?.browserSession).toBe(true);
    expect(loaded?.ttlMs).toBe(60_000);
  });

  it("@fastify/session's bare store: a session set without a cookie (as @fastify/session's own cookiePrefix test does) reads back without an expiry", async () => {
    const core = backend.createStore();
    const store = createFastifyStore(core);
    const app = await bareFastify(core);
    closers.push(() => app.close());
    const id = "Qk_XT2K7-clT-x1tVvoY6tIQ83iP72KN";
    await new Promise<void>((resolve, reject) => store.set(id, { user: "grace" }, (error) => (error ? reject(error) : resolve())));
    const signature = createHmac("sha256", SECRET).update(id).digest("base64").replace(/=+$/, "");
    const response = await app.inject({ url: "/me", headers: { cookie: `sid=${encodeURIComponent(`s:${id}.${signature}`)}` } });
    expect(response.json()).toEqual({ user: "grace" });
    expect(expiresOf(response.headers["set-cookie"], "sid")).not.toMatch(/Expires=|Max-Age=/i);
  });

  it("a persistent cookie (maxAge) stays persistent: the record is not marked", async () => {
    const core = backend.createStore();
    const app = await bareFastify(core, 60_000);
    closers.push(() => app.close());
    const login = await app.inject({ method: "POST", url: "/login" });
    const again = await app.inject({ url: "/me", headers: { cookie: cookieHeader(login.headers["set-cookie"]) } });
    expect(expiresOf(again.headers["set-cookie"], "sid")).toMatch(/Expires=/i);
    expect((await core.load(sessionIdFromCookie("sid", login.headers["set-cookie"])))?.browserSession).toBeUndefined();
  });

  it("express: get() and all() report cookie.expires null for such a session, as express-session's own stores do", async () => {
    const core = backend.createStore({ prefix: "browser-express:" });
    await core.set("browser", { user: "ada" }, { browserSession: true });
    await core.set("persistent", { user: "bob" }, { ttlMs: 60_000 });
    const store = createExpressStore(core);
    const got = await new Promise<Record<string, unknown> | null | undefined>((resolve, reject) => store.get("browser", (error, sess) => (error ? reject(error) : resolve(sess as never))));
    expect(got?.cookie).toEqual({ originalMaxAge: null, expires: null });
    const all = await new Promise<Record<string, { cookie: { expires: Date | null } }>>((resolve, reject) => store.all!((error, sessions) => (error ? reject(error) : resolve(sessions as never))));
    expect(all.browser?.cookie.expires).toBeNull();
    expect(all.persistent?.cookie.expires).toBeInstanceOf(Date);
  });

  it("koa with a numeric maxAge keeps such a session a browser-session cookie (as koa-session's `_session`)", async () => {
    const core = backend.createStore({ prefix: "browser-koa:" });
    await core.set("koa-browser", { views: 1 }, { browserSession: true });
    const koa = new Koa();
    koa.keys = [SECRET];
    koa.use(koaSession({ key: "sid", signed: false, maxAge: 60_000, store: createKoaStore(core) as never }, koa));
    koa.use(async (ctx) => {
      const s = ctx.session as unknown as { views: number };
      s.views += 1;
      ctx.body = { views: s.views };
    });
    const server = createServer(koa.callback());
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    closers.push(() => new Promise((resolve) => server.close(resolve)));
    const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, { headers: { cookie: "sid=koa-browser" } });
    expect(await response.json()).toEqual({ views: 2 });
    const setCookie = response.headers.getSetCookie();
    expect(expiresOf(setCookie, "sid")).toBeDefined();
    expect(expiresOf(setCookie, "sid")).not.toMatch(/expires=/i);
    expect((await core.load("koa-browser"))?.browserSession).toBe(true);
  });
});
