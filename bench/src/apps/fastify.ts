import Fastify, { type FastifyInstance } from "fastify";
import fastifyCookie from "@fastify/cookie";
import fastifySession, { type SessionStore as FastifySessionStore } from "@fastify/session";
import { Redis } from "ioredis";
import { RedisStore as RedisStore8 } from "connect-redis-8";
import { RedisStore as RedisStore9 } from "connect-redis";
import { createClient } from "redis";
import session from "express-session";
import connectMemjs from "connect-memjs";
import type { AppConfig } from "../config.js";
import { SECRET, SESSION_MAX_AGE_MS, USER, VISITOR } from "../payload.js";
import { sessionbridge } from "@sessionbridge/fastify";
import { detachedCopy, freshCopy } from "./detached.js";
import { createOurStore, isOurs } from "./our-store.js";

declare module "fastify" {
  interface Session {
    user?: typeof USER;
    visitor?: typeof VISITOR;
    views?: number;
  }
}

type Callback = (error: unknown, value?: unknown) => void;

/**
 * The limit for any @fastify/session store: plain copies in a Map (no encoding, no network), answered in
 * a later turn of the event loop, as a network store's replies arrive. (@fastify/session's own MemoryStore answers in the request's
 * turn, which measured dearer per request: it is the framework-memory row.)
 */
function zeroCostStore(): FastifySessionStore {
  const sessions = new Map<string, Record<string, unknown>>();
  const store = {
    get: (sid: string, callback: Callback) => void setImmediate(callback, null, freshCopy(sessions.get(sid))),
    set: (sid: string, value: object, callback: Callback) => {
      sessions.set(sid, detachedCopy(value));
      setImmediate(callback, null);
    },
    destroy: (sid: string, callback: Callback) => {
      sessions.delete(sid);
      setImmediate(callback, null);
    },
  };
  return store as unknown as FastifySessionStore;
}

/** undefined = @fastify/session's own MemoryStore (the framework-memory row). */
async function createStore(config: AppConfig): Promise<FastifySessionStore | undefined> {
  const kind = config.store;
  switch (kind) {
    // connect-redis stores follow express-session's callback contract, which @fastify/session accepts.
    case "connect-redis-8":
      return new RedisStore8({ client: new Redis(config.redisUrl) }) as unknown as FastifySessionStore;
    case "connect-redis-9": {
      const client = createClient({ url: config.redisUrl });
      client.on("error", () => undefined); // the failure run stops Redis on purpose
      await client.connect();
      return new RedisStore9({ client }) as unknown as FastifySessionStore;
    }
    case "connect-memjs": {
      // connect-memjs builds on express-session's Store class; @fastify/session accepts that contract.
      const MemcachedStore = connectMemjs(session);
      return new MemcachedStore({ servers: [config.memcachedServer] }) as unknown as FastifySessionStore;
    }
    case "zero-cost":
      return zeroCostStore();
    case "framework-memory":
      return undefined;
    default:
      throw new Error(`fastify has no "${kind}" store`);
  }
}

export async function createFastifyApp(config: AppConfig): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  if (config.store === "none") {
    app.get("/login", async () => "ok");
    app.get("/page", async () => `hello ${USER.name}`);
    app.get("/write", async () => "1");
    app.get("/welcome", async () => "welcome");
    return app;
  }
  // @fastify/session's defaults except: plain HTTP (secure: false, or it never saves) and no empty
  // sessions for anonymous visitors (saveUninitialized: false), the same as the Express rows.
  // rolling stays at its default (true): what users run.
  const options = { secret: SECRET, saveUninitialized: false, cookie: { secure: false, maxAge: SESSION_MAX_AGE_MS } };
  if (isOurs(config.store)) {
    // Our rows run what our README tells users to run: the plugin (it registers @fastify/cookie and
    // @fastify/session with our store, and links each request to its load and its budget).
    await app.register(sessionbridge, { ...options, store: createOurStore(config.store, config) });
  } else {
    const store = await createStore(config);
    await app.register(fastifyCookie);
    await app.register(fastifySession, { ...options, ...(store ? { store } : {}) });
  }
  app.get("/login", async (request) => {
    request.session.user = USER;
    return "ok";
  });
  app.get("/page", async (request, reply) => {
    if (!request.session.user) return reply.code(401).send("login first");
    return `hello ${request.session.user.name}`;
  });
  app.get("/write", async (request, reply) => {
    if (!request.session.user) return reply.code(401).send("login first");
    request.session.views = (request.session.views ?? 0) + 1;
    return String(request.session.views);
  });
  app.get("/welcome", async (request) => {
    request.session.visitor = VISITOR;
    return "welcome";
  });
  app.setErrorHandler((error: { statusCode?: unknown }, _request, reply) => {
    void reply.code(typeof error.statusCode === "number" ? error.statusCode : 500).send("store error");
  });
  return app;
}
