import express, { type Express } from "express";
import session, { type Store } from "express-session";
import { Redis } from "ioredis";
import { RedisStore as RedisStore8 } from "connect-redis-8";
import { RedisStore as RedisStore9 } from "connect-redis";
import { createClient } from "redis";
import connectMemjs from "connect-memjs";
import type { AppConfig } from "../config.js";
import { SECRET, SESSION_MAX_AGE_MS, USER, VISITOR } from "../payload.js";
import { sessionbridge } from "@sessionbridge/express";
import { detachedCopy, freshCopy } from "./detached.js";
import { createOurStore, isOurs } from "./our-store.js";

/**
 * The limit for any express-session store: plain copies in a Map (no encoding, no network), answered in a
 * later turn of the event loop, as a network store's replies arrive (answering in the request's own turn
 * measured no cheaper, and on Fastify and Koa dearer: see docs/benchmarks.md).
 */
class ZeroCostStore extends session.Store {
  private readonly sessions = new Map<string, Record<string, unknown>>();
  override get(sid: string, callback: (err: unknown, session?: session.SessionData | null) => void): void {
    setImmediate(callback, null, freshCopy(this.sessions.get(sid)) as session.SessionData | null);
  }
  override set(sid: string, data: session.SessionData, callback?: (err?: unknown) => void): void {
    this.sessions.set(sid, detachedCopy(data));
    if (callback) setImmediate(callback);
  }
  override destroy(sid: string, callback?: (err?: unknown) => void): void {
    this.sessions.delete(sid);
    if (callback) setImmediate(callback);
  }
  override touch(_sid: string, _data: session.SessionData, callback?: () => void): void {
    if (callback) setImmediate(callback);
  }
}

async function createStore(config: AppConfig): Promise<Store | undefined> {
  const kind = config.store;
  switch (kind) {
    case "connect-redis-8":
      return new RedisStore8({ client: new Redis(config.redisUrl) });
    case "connect-redis-9": {
      const client = createClient({ url: config.redisUrl });
      client.on("error", () => undefined); // the failure run stops Redis on purpose
      await client.connect();
      return new RedisStore9({ client });
    }
    case "connect-memjs": {
      const MemcachedStore = connectMemjs(session);
      return new MemcachedStore({ servers: [config.memcachedServer] });
    }
    case "framework-memory":
      return new session.MemoryStore();
    case "zero-cost":
      return new ZeroCostStore();
    default:
      throw new Error(`express has no "${kind}" store`);
  }
}

declare module "express-session" {
  interface SessionData {
    user: typeof USER;
    visitor: typeof VISITOR;
    views: number;
  }
}

export async function createExpressApp(config: AppConfig): Promise<Express> {
  const app = express();
  app.disable("x-powered-by");
  app.disable("etag");
  if (config.store === "none") {
    app.get("/login", (_req, res) => void res.send("ok"));
    app.get("/page", (_req, res) => void res.send(`hello ${USER.name}`));
    app.get("/write", (_req, res) => void res.send("1"));
    app.get("/welcome", (_req, res) => void res.send("welcome"));
    return app;
  }
  const options = { secret: SECRET, resave: false, saveUninitialized: false, cookie: { maxAge: SESSION_MAX_AGE_MS } };
  // Ours through its Express entry point: express-session with our store, the cookie configuration learned once.
  if (isOurs(config.store)) app.use(sessionbridge({ ...options, store: createOurStore(config.store, config) }));
  else {
    const store = await createStore(config);
    app.use(session({ ...options, ...(store ? { store } : {}) }));
  }
  app.get("/login", (req, res) => {
    req.session.user = USER;
    res.send("ok");
  });
  app.get("/page", (req, res) => {
    if (!req.session?.user) return void res.status(401).send("login first");
    res.send(`hello ${req.session.user.name}`);
  });
  app.get("/write", (req, res) => {
    if (!req.session?.user) return void res.status(401).send("login first");
    req.session.views = (req.session.views ?? 0) + 1;
    res.send(String(req.session.views));
  });
  app.get("/welcome", (req, res) => {
    req.session.visitor = VISITOR;
    res.send("welcome");
  });
  // A store failure becomes a short answer with the error's status (503 from our adapter when the backend
  // is down, else 500) instead of an HTML stack page; the failure run counts answers by status.
  app.use((error: { status?: unknown }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(typeof error?.status === "number" ? error.status : 500).send("store error");
  });
  return app;
}
