import { request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import session from "express-session";
import Fastify from "fastify";
import Koa from "koa";
import koaSession from "koa-session";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSessionStore, type SessionStore } from "@sessionbridge/core";
import { sessionbridge } from "@sessionbridge/fastify";
import { createKoaStore, expressCookie } from "@sessionbridge/koa";
import { rejection, startRedis, uniquePrefix, type RedisServer } from "@sessionbridge/testing";
import { createExpressStore, saveBeforeResponse } from "../src/index.js";

/**
 * Graceful shutdown as docs/operations.md describes it, per framework, on a real redis-server: stop
 * accepting connections, let a request already in its handler finish and write its session, then close
 * the store. The in-flight request's session must be in Redis afterwards and new connections refused.
 */

const SECRET = "the secret every framework signs the session cookie with";

/** A POST with `Connection: close`, so the server holds no idle keep-alive socket after the answer. */
function post(port: number, path: string): Promise<{ status: number; setCookie: string[] }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: "127.0.0.1", port, path, method: "POST", agent: false }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode ?? 0, setCookie: res.headers["set-cookie"] ?? [] }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** A handler that marks the session and waits until the test lets it go. */
function gate(): { entered: Promise<void>; enter(): void; release(): void; released: Promise<void> } {
  let enter!: () => void;
  let release!: () => void;
  const entered = new Promise<void>((resolve) => (enter = resolve));
  const released = new Promise<void>((resolve) => (release = resolve));
  return { entered, enter, release, released };
}

interface Running {
  port: number;
  /** The framework's documented shutdown: stop accepting, drain in-flight requests, close the store. */
  shutdown(): Promise<void>;
}

/** A node:http server that is starting to listen: its port, and the documented shutdown order (stop accepting, let in-flight requests finish, then close the store). */
async function listening(http: Server, store: { close(): Promise<void> }): Promise<{ port: number; shutdown(): Promise<void> }> {
  await new Promise((resolve) => http.once("listening", resolve));
  return {
    port: (http.address() as AddressInfo).port,
    async shutdown() {
      await new Promise<void>((resolve, reject) => http.close((error) => (error ? reject(error) : resolve())));
      await store.close();
    },
  };
}

describe("graceful shutdown on a real redis-server", () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await server?.dispose();
  });

  async function sessionsUnder(prefix: string): Promise<Array<Record<string, unknown> | null>> {
    const reader = createSessionStore({ url: server.url, prefix });
    try {
      const ids: string[] = [];
      for await (const id of reader.ids()) ids.push(id);
      return Promise.all(ids.map((id) => reader.get(id)));
    } finally {
      await reader.close();
    }
  }

  const frameworks: Array<[string, (store: SessionStore, g: ReturnType<typeof gate>) => Promise<Running>]> = [
    [
      "express",
      async (store, g) => {
        const app = express();
        app.use(session({ store: createExpressStore(store), secret: SECRET, resave: false, saveUninitialized: false }));
        app.use(saveBeforeResponse());
        app.post("/slow", async (req, res) => {
          (req.session as unknown as Record<string, unknown>).cart = 1;
          g.enter();
          await g.released;
          res.json({ ok: true });
        });
        return listening(app.listen(0, "127.0.0.1"), store);
      },
    ],
    [
      "koa",
      async (store, g) => {
        const app = new Koa();
        app.use(koaSession({ key: "sid", signed: false, store: createKoaStore(store), externalKey: expressCookie({ name: "sid", secret: SECRET }) }, app));
        app.use(async (ctx) => {
          (ctx.session as unknown as Record<string, unknown>).cart = 1;
          g.enter();
          await g.released;
          ctx.body = { ok: true };
        });
        return listening(app.listen(0, "127.0.0.1"), store);
      },
    ],
    [
      "fastify",
      async (store, g) => {
        const app = Fastify();
        // closeStore (default true): app.close() closes the store after the in-flight requests are done.
        await app.register(sessionbridge, { store, secret: SECRET, cookie: { secure: false }, saveUninitialized: false });
        app.post("/slow", async (req) => {
          (req.session as unknown as { set(k: string, v: unknown): void }).set("cart", 1);
          g.enter();
          await g.released;
          return { ok: true };
        });
        await app.listen({ port: 0, host: "127.0.0.1" });
        return { port: (app.server.address() as AddressInfo).port, shutdown: () => app.close() };
      },
    ],
  ];

  it.each(frameworks)("%s: stops accepting, lets the in-flight request write its session, then closes the store", async (_name, start) => {
    const prefix = uniquePrefix("shutdown");
    const store = createSessionStore({ url: server.url, prefix, timeoutMs: 1000 });
    const g = gate();
    const app = await start(store, g);
    const inFlight = post(app.port, "/slow");
    await g.entered;
    const stopped = app.shutdown();
    // The listening socket is closed at once: a new visitor is refused (the load balancer tries another instance).
    await expect(post(app.port, "/slow")).rejects.toMatchObject({ code: "ECONNREFUSED" });
    g.release();
    const answer = await inFlight;
    expect(answer.status).toBe(200);
    expect(answer.setCookie.join(";")).toMatch(/sid|sessionId/);
    await stopped;
    expect(await sessionsUnder(prefix)).toEqual([expect.objectContaining({ cart: 1 })]);
    expect((await rejection(() => store.health())).code).toBe("CLOSED");
  });
});
