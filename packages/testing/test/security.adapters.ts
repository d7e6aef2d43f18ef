import type session from "express-session";
import type { SessionStore } from "@sessionbridge/core";

// The framework adapters, loaded by name through the test aliases. Not declared dependencies: the
// adapter packages depend on this one for their tests, and a dependency back would make a cycle.
const load = async <T>(name: string): Promise<T> => (await import(/* @vite-ignore */ name)) as T;

export const { createExpressStore } = await load<{ createExpressStore: (store: SessionStore) => session.Store }>("@sessionbridge/express");
export const { sessionbridge } = await load<{ sessionbridge: (...args: never[]) => unknown }>("@sessionbridge/fastify");
export const { createKoaStore, expressCookie } = await load<{
  createKoaStore: (store: SessionStore) => unknown;
  expressCookie: (options: { name: string; secret: string }) => unknown;
}>("@sessionbridge/koa");
