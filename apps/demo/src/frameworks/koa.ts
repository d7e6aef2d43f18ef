import { createKoaStore } from "@sessionbridge/koa";
import { sign, unsign } from "cookie-signature";
import Koa, { type Context } from "koa";
import session from "koa-session";
import { failure, handle, type DemoRequest, type DemoResponse, type SessionPort } from "../app.js";
import { readForm } from "../form.js";
import type { StartFramework } from "../instance.js";
import { listen } from "../listen.js";

// Koa 3 + koa-session + @sessionbridge/koa. Translation only: the app lives in app.ts.

type KoaSession = Record<string, unknown> & { regenerate(): Promise<void> | undefined };

function port(ctx: Context, cookieName: string, secret: string): SessionPort {
  const data = () => ctx.session as unknown as KoaSession;
  return {
    // koa-session keeps the new id only in the cookie it sets; read it back from there.
    id: () => readSignedId(ctx, cookieName, secret) ?? "",
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

function readSignedId(ctx: Context, name: string, secret: string): string | undefined {
  const outgoing = ctx.response.get("set-cookie");
  const raw = [...(Array.isArray(outgoing) ? outgoing : [])].reverse().map((line) => new RegExp(`^${name.replace(".", "\\.")}=([^;]*)`).exec(line)?.[1]).find((v) => v !== undefined) ?? ctx.cookies.get(name, { signed: false });
  if (!raw) return undefined;
  const value = decodeURIComponent(raw);
  return value.startsWith("s:") ? unsign(value.slice(2), secret) || undefined : undefined;
}

function toDemo(ctx: Context, form: Record<string, string>): DemoRequest {
  return { method: ctx.method, path: ctx.path, query: new URLSearchParams(ctx.querystring), form, ip: ctx.ip, userAgent: ctx.get("user-agent") || undefined };
}

function send(ctx: Context, out: DemoResponse): void {
  ctx.status = out.status;
  ctx.set(out.headers);
  ctx.body = out.body;
}

export const startKoa: StartFramework = async (app, store, cookie, listenPort) => {
  const web = new Koa({ proxy: true }); // ctx.ip and ctx.secure from the balancer's X-Forwarded-* headers
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
        store: createKoaStore(store),
        key: cookie.name,
        maxAge: cookie.ttlMs,
        httpOnly: true,
        sameSite: "lax",
        // koa-session signs into a separate ".sig" cookie; instead, read and write the id in
        // express-session's format so Express and Fastify instances share the same cookie.
        signed: false,
        externalKey: {
          get: (ctx: Context) => readSignedId(ctx, cookie.name, cookie.secret) ?? "", // "" = no session yet
          set: (ctx: Context, id: string) => {
            ctx.cookies.set(cookie.name, encodeURIComponent(`s:${sign(id, cookie.secret)}`), { httpOnly: true, sameSite: "lax", maxAge: cookie.ttlMs, path: "/", signed: false });
          },
        },
      },
      web,
    ),
  );
  web.use(async (ctx) => {
    const form = ctx.method === "POST" ? await readForm(ctx.req) : {};
    send(ctx, await handle(app, toDemo(ctx, form), port(ctx, cookie.name, cookie.secret)).catch((error: unknown) => failure(app, error)));
  });
  return listen(web.callback(), listenPort);
};
