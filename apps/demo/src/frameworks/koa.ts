import { createKoaStore, expressCookie } from "@sessionbridge/koa";
import Koa, { type Context } from "koa";
import session from "koa-session";
import { failure, handle, type DemoRequest, type DemoResponse, type SessionPort } from "../app.js";
import { readForm } from "../form.js";
import type { StartFramework } from "../instance.js";
import { listen } from "../listen.js";

// Koa 3 + koa-session + @sessionbridge/koa. Translation only: the app lives in app.ts.

type KoaSession = Record<string, unknown> & { regenerate(): Promise<void> | undefined };

function port(ctx: Context, cookieId: (ctx: Context) => string | undefined): SessionPort {
  const data = () => ctx.session as unknown as KoaSession;
  return {
    // A regenerated id is only in the cookie being set (see externalKey below), not in the request.
    id: () => (ctx.state as { sessionId?: string }).sessionId ?? cookieId(ctx) ?? "",
    get: (key) => data()[key] as never,
    set: (key, value) => void (data()[key] = value),
    regenerate: async () => {
      // koa-session's regenerate keeps the data under the new id; the demo wants a fresh session.
      for (const key of Object.keys(data())) if (!key.startsWith("_")) delete data()[key];
      await data().regenerate();
    },
    destroy: async () => {
      ctx.session = null;
    },
  };
}

function toDemo(ctx: Context, form: Record<string, string>): DemoRequest {
  return { method: ctx.method, path: ctx.path, query: new URLSearchParams(ctx.querystring), form, ip: ctx.ip, userAgent: ctx.get("user-agent") || undefined, cookies: ctx.get("cookie") || undefined };
}

function send(ctx: Context, out: DemoResponse): void {
  ctx.status = out.status;
  ctx.set(out.headers);
  ctx.body = out.body;
}

export const startKoa: StartFramework = async (app, store, cookie, listenPort) => {
  const cookieKey = expressCookie({ name: cookie.name, secret: cookie.secret });
  // ctx.ip and ctx.secure from the balancer's X-Forwarded-* headers; maxIpsCount 1 takes the address the
  // balancer appended, not one a client wrote into the header.
  const web = new Koa({ proxy: true, maxIpsCount: 1 });
  web.use(async (ctx, next) => {
    try {
      await next();
    } catch (error) {
      send(ctx, failure(app, error));
    }
  });
  web.use(
    session(
      {
        // Cast: koa-session's typings mark the store context's `ctx` optional; the adapter's require it.
        store: createKoaStore(store) as unknown as NonNullable<Parameters<typeof session>[0]>["store"],
        key: cookie.name,
        maxAge: cookie.ttlMs,
        httpOnly: true,
        sameSite: "lax",
        // koa-session would sign into a separate ".sig" cookie; the adapter's externalKey reads and
        // writes express-session's format instead, so Express and Fastify share the same cookie.
        signed: false,
        externalKey: {
          get: (ctx: Context) => cookieKey.get(ctx) as string, // undefined: no session yet
          set: (ctx: Context, id: string) => {
            (ctx.state as { sessionId?: string }).sessionId = id;
            cookieKey.set(ctx, id);
          },
        },
      },
      web,
    ),
  );
  web.use(async (ctx) => {
    const form = ctx.method === "POST" ? await readForm(ctx.req) : {};
    send(ctx, await handle(app, toDemo(ctx, form), port(ctx, cookieKey.get)).catch((error: unknown) => failure(app, error)));
  });
  return listen(web.callback(), listenPort);
};
