import fastifyFormbody from "@fastify/formbody";
import { sessionbridge } from "@sessionbridge/fastify";
import Fastify, { type FastifyReply, type FastifyRequest } from "fastify";
import { failure, handle, type DemoRequest, type DemoResponse, type SessionPort } from "../app.js";
import type { StartFramework } from "../instance.js";

// Fastify 5 + @fastify/session through the @sessionbridge/fastify plugin. Translation only: the app lives in app.ts.

interface LooseSession {
  sessionId: string;
  get(key: string): unknown;
  set(key: string, value: unknown): void;
  regenerate(): Promise<void>;
  destroy(): Promise<void>;
}

function port(request: FastifyRequest): SessionPort {
  // @fastify/session replaces request.session on regenerate: always read the current one.
  const session = () => request.session as unknown as LooseSession;
  return {
    id: () => session().sessionId,
    get: (key) => session().get(key) as never,
    set: (key, value) => session().set(key, value),
    regenerate: () => session().regenerate(),
    destroy: () => session().destroy(),
  };
}

function toDemo(request: FastifyRequest): DemoRequest {
  const [path = "/", query = ""] = request.url.split("?");
  return { method: request.method, path, query: new URLSearchParams(query), form: (request.body ?? {}) as Record<string, unknown>, ip: request.ip, userAgent: request.headers["user-agent"], cookies: request.headers.cookie };
}

function send(reply: FastifyReply, out: DemoResponse): FastifyReply {
  return reply.code(out.status).headers(out.headers).send(out.body);
}

export const startFastify: StartFramework = async (app, store, cookie, listenPort) => {
  const web = Fastify({ trustProxy: "127.0.0.1", bodyLimit: 16 * 1024 });
  await web.register(fastifyFormbody);
  // Registers @fastify/cookie and @fastify/session with the store.
  await web.register(sessionbridge, {
    store,
    closeStore: false, // the demo owns the store (in the memory mode, instances share it)
    cookieName: cookie.name,
    secret: cookie.secret,
    // express-session's signed-cookie format ("s:" + signature), so all frameworks share the cookie.
    cookiePrefix: "s:",
    saveUninitialized: false,
    cookie: { httpOnly: true, sameSite: "lax", secure: "auto", maxAge: cookie.ttlMs, path: "/" },
  });
  web.setErrorHandler((error, _request, reply) => send(reply, failure(app, error)));
  web.all("/*", async (request, reply) => send(reply, await handle(app, toDemo(request), port(request)).catch((error: unknown) => failure(app, error))));
  await web.listen({ port: listenPort, host: "127.0.0.1" });
  const address = web.server.address();
  return { port: typeof address === "object" && address ? address.port : listenPort, close: () => web.close() };
};
