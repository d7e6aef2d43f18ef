import Koa from "koa";
import koaSession from "koa-session";
import redisStore from "koa-redis";
import type { AppConfig } from "../config.js";
import { SECRET, SESSION_MAX_AGE_MS, USER, VISITOR } from "../payload.js";
import { isOurs, ourAdapterStore } from "./our-store.js";

/** koa-session's external store contract, as far as the bench uses it. */
interface KoaExternalStore {
  get(key: string, maxAge: unknown, options: unknown): unknown;
  set(key: string, session: unknown, maxAge: unknown, options: unknown): unknown;
  destroy(key: string, options: unknown): unknown;
}

/**
 * The limit for any koa-session store: ready objects in a Map, answered in a later turn of the event loop,
 * as a network store's replies arrive (answering in the request's own turn measured dearer per request).
 */
function zeroCostStore(): KoaExternalStore {
  const sessions = new Map<string, unknown>();
  const later = <T>(value: T): Promise<T> => new Promise((resolve) => setImmediate(resolve, value));
  return {
    get: (key) => later(sessions.get(key)),
    set: (key, session) => later(void sessions.set(key, session)),
    destroy: (key) => later(void sessions.delete(key)),
  };
}

/** undefined = koa-session's default: the whole session in a signed cookie (Koa has no memory store). */
async function createStore(config: AppConfig): Promise<KoaExternalStore | undefined> {
  const kind = config.store;
  if (isOurs(kind)) return ourAdapterStore<KoaExternalStore>(config, "@sessionbridge/koa", "createKoaStore");
  switch (kind) {
    case "koa-redis":
    case "koa-redis-rolling":
      return redisStore({ url: config.redisUrl }) as unknown as KoaExternalStore;
    case "zero-cost":
      return zeroCostStore();
    case "framework-memory":
      return undefined;
    default:
      throw new Error(`koa has no "${kind}" store`);
  }
}

interface BenchSession {
  user?: typeof USER;
  visitor?: typeof VISITOR;
  views?: number;
}

export async function createKoaApp(config: AppConfig): Promise<Koa> {
  const app = new Koa();
  app.keys = [SECRET];
  const routes: Record<string, (session: BenchSession | null, ctx: Koa.Context) => void> = {
    "/login": (session, ctx) => {
      if (session) session.user = USER;
      ctx.body = "ok";
    },
    "/page": (session, ctx) => {
      if (config.store === "none") return void (ctx.body = `hello ${USER.name}`);
      if (!session?.user) return void ((ctx.status = 401), (ctx.body = "login first"));
      ctx.body = `hello ${session.user.name}`;
    },
    "/write": (session, ctx) => {
      if (config.store === "none") return void (ctx.body = "1");
      if (!session?.user) return void ((ctx.status = 401), (ctx.body = "login first"));
      session.views = (session.views ?? 0) + 1;
      ctx.body = String(session.views);
    },
    "/welcome": (session, ctx) => {
      if (session) session.visitor = VISITOR;
      ctx.body = "welcome";
    },
  };
  if (config.store !== "none") {
    const store = await createStore(config);
    // Sliding expiry (rolling) for every row except plain koa-redis, which runs koa-session's default
    // (rolling off: the session expires a day after its last change, however active the user is), and
    // our renew row: rolling off, renew on — the server TTL slides on every read (GETEX) and koa-session
    // re-sends the cookie only once less than half of maxAge is left.
    const rolling = config.store !== "koa-redis" && config.store !== "ours-redis-renew";
    const renew = config.store === "ours-redis-renew";
    app.use(async (ctx, next) => {
      try {
        await next();
      } catch (error) {
        const status = (error as { status?: unknown } | null)?.status;
        ctx.status = typeof status === "number" ? status : 500;
        ctx.body = "store error";
      }
    });
    app.use(koaSession({ maxAge: SESSION_MAX_AGE_MS, rolling, renew, ...(store ? { store } : {}) } as Parameters<typeof koaSession>[0], app));
  }
  app.use((ctx) => {
    const route = routes[ctx.path];
    if (!route) return void (ctx.status = 404);
    route(config.store === "none" ? null : (ctx.session as BenchSession | null), ctx);
  });
  return app;
}
