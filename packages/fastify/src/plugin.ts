import fastifyCookie from "@fastify/cookie";
import fastifySession from "@fastify/session";
import type { FastifyPluginAsync } from "fastify";
import fp from "fastify-plugin";
import { SessionStoreError } from "@sessionbridge/core";
import { isSessionFailure } from "@sessionbridge/core/adapter";
import type { SessionData, SessionStore } from "@sessionbridge/core";
import { createFastifyStore, type FastifyStoreOptions } from "./store.js";

type FastifySessionOptions = Parameters<typeof fastifySession>[1];

/**
 * Options of the sessionbridge Fastify plugin: @fastify/session's own options (`secret`, `cookieName`,
 * `cookie`, `rolling` (default true), `saveUninitialized` (default true), `cookiePrefix`, …), with
 * `store` being the sessionbridge store.
 */
export interface SessionbridgePluginOptions extends Omit<FastifySessionOptions, "store"> {
  /**
   * The store from `createSessionStore(…)`, of any session type (`createSessionStore<MySession>()`, where
   * `MySession` may be an `interface`). Required.
   */
  store: SessionStore<object>;
  /** Close the store (and its backend connections) when the Fastify app closes. Default true. */
  closeStore?: boolean;
  /** Request facts stored with the session (user agent, IP): see `FastifyStoreOptions.meta`. Default: none. */
  meta?: FastifyStoreOptions["meta"];
}

declare module "fastify" {
  interface FastifyInstance {
    /** The sessionbridge store behind the sessions, for administration (`length()`, `destroy(id)`, …). */
    sessionbridge: SessionStore<SessionData>;
  }
}

const plugin: FastifyPluginAsync<SessionbridgePluginOptions> = async (fastify, options) => {
  const { store, closeStore = true, meta, ...sessionOptions } = options ?? ({} as SessionbridgePluginOptions);
  if (store === null || typeof store !== "object" || typeof (store as Partial<SessionStore>).load !== "function") {
    throw new SessionStoreError("CONFIG", 'option "store" must be a session store from createSessionStore(…)');
  }
  if (typeof closeStore !== "boolean") throw new SessionStoreError("CONFIG", 'option "closeStore" must be true or false');
  const secret = sessionOptions.secret as unknown;
  const secretOk = (typeof secret === "string" && secret.length >= 32) || (Array.isArray(secret) && secret.length > 0 && secret.every((s) => typeof s === "string" && s.length >= 32)) || (typeof secret === "object" && secret !== null && "sign" in secret);
  if (!secretOk) throw new SessionStoreError("CONFIG", 'option "secret" must be a string of at least 32 characters (or an array of them, newest first)');

  if (!fastify.hasDecorator("parseCookie")) await fastify.register(fastifyCookie);
  const adapter = createFastifyStore(store, { browserSessionCookie: sessionOptions.cookie?.maxAge === undefined, ...(meta === undefined ? {} : { meta }) });
  // Runs right before @fastify/session's own onRequest hook, which calls store.get synchronously: this
  // tells the adapter which request the next get belongs to (see FastifyStore).
  fastify.addHook("onRequest", (request, _reply, done) => {
    adapter.expect(request);
    done();
    adapter.expect(undefined);
  });
  // A request whose session could not be loaded or saved answers the error without its session: else
  // @fastify/session would try to save it again while the error page is sent, fail again, and replace
  // the application's error handler's answer with Fastify's default one.
  fastify.addHook("onError", (request, _reply, error, done) => {
    if (isSessionFailure(error)) (request as { session: unknown }).session = null;
    done();
  });
  await fastify.register(fastifySession, { ...sessionOptions, store: adapter } as FastifySessionOptions);
  fastify.decorate("sessionbridge", store as SessionStore<SessionData>);
  if (closeStore) fastify.addHook("onClose", async () => store.close());
};

/**
 * Registers @fastify/cookie (unless already registered) and @fastify/session with a sessionbridge store,
 * validates the options at registration, exposes the store as `fastify.sessionbridge` and closes it when
 * the app closes.
 */
export const sessionbridge = fp(plugin, { fastify: "5.x", name: "@sessionbridge/fastify" });
