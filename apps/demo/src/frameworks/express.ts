import { SessionStoreError } from "@sessionbridge/core";
import { createExpressStore, saveBeforeResponse } from "@sessionbridge/express";
import express, { type NextFunction, type Request, type Response } from "express";
import session from "express-session";
import { failure, handle, type DemoApp, type DemoRequest, type DemoResponse, type SessionPort } from "../app.js";
import type { StartFramework } from "../instance.js";
import { listen } from "../listen.js";

// Express 5 + express-session + @sessionbridge/express. Translation only: the app lives in app.ts.

function port(req: Request): SessionPort {
  const data = () => req.session as unknown as Record<string, unknown>;
  return {
    id: () => req.sessionID,
    get: (key) => data()[key] as never,
    set: (key, value) => void (data()[key] = value),
    regenerate: () => new Promise<void>((resolve, reject) => req.session.regenerate((error) => (error ? reject(error) : resolve()))),
    destroy: () => new Promise<void>((resolve, reject) => req.session.destroy((error) => (error ? reject(error) : resolve()))),
  };
}

function request(req: Request): DemoRequest {
  return { method: req.method, path: req.path, query: new URLSearchParams(req.url.split("?")[1] ?? ""), form: (req.body ?? {}) as Record<string, unknown>, ip: req.ip ?? "", userAgent: req.get("user-agent"), cookies: req.get("cookie") };
}

function send(res: Response, out: DemoResponse): void {
  res.status(out.status).set(out.headers).send(out.body);
}

export const startExpress: StartFramework = async (app, store, cookie, listenPort) => {
  const web = express();
  web.disable("x-powered-by");
  web.set("trust proxy", "loopback"); // req.ip and req.secure from the balancer's X-Forwarded-* headers
  web.use(express.urlencoded({ extended: false, limit: "16kb" }));
  web.use(
    session({
      store: createExpressStore(store),
      name: cookie.name,
      secret: cookie.secret,
      resave: false,
      saveUninitialized: false,
      cookie: { httpOnly: true, sameSite: "lax", secure: "auto", maxAge: cookie.ttlMs, path: "/" },
    }),
  );
  // A changed session is saved before the page is sent, so a failed save gets the 503 page like on
  // Fastify and Koa (express-session alone would send the page first and lose the session).
  web.use(saveBeforeResponse());
  web.use(async (req: Request, res: Response) => {
    // express-session skips the session while the store reports 'disconnect': answer 503 at once.
    if (req.session === undefined) return send(res, failure(app, new SessionStoreError("UNAVAILABLE", "session store disconnected")));
    send(res, await handle(app, request(req), port(req)).catch((error: unknown) => failure(app, error)));
  });
  web.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    // A failed save arrives here before the page was sent (saveBeforeResponse). Only an unchanged
    // session's TTL refresh, left to express-session, can still fail after it: nothing left to answer.
    if (!res.headersSent) send(res, failure(app, error));
  });
  return listen(web, listenPort);
};
