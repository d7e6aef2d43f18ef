import express from "express";
import session from "express-session";
import Fastify from "fastify";
import Koa from "koa";
import koaSession from "koa-session";
import { afterAll, describe, expect, it } from "vitest";
import { createSessionStore } from "@sessionbridge/core";
import { createExpressStore, sessionbridge as expressSessionbridge } from "@sessionbridge/express";
import { createFastifyStore, sessionbridge as fastifySessionbridge } from "@sessionbridge/fastify";
import { createKoaStore, expressCookie } from "@sessionbridge/koa";

// A type test first: `tsc` (the typecheck task) fails on this file if a session type declared as an
// `interface` (no index signature) is refused by createSessionStore<T>() or an adapter, or if
// expressCookie() does not fit koa-session's `externalKey` under `strict`.
interface ShopSession {
  userId?: number;
  cart: string[];
}

const store = createSessionStore<ShopSession>({ url: "memory://" });
const secret = "a test secret that is long enough, 32+";

describe("session types declared as an interface", () => {
  afterAll(() => store.close());

  it("type the store's data and are accepted by every adapter", async () => {
    await store.set("typed-1", { cart: ["book"] });
    const data: ShopSession | null = await store.get("typed-1");
    expect(data?.cart).toEqual(["book"]);

    expect(createExpressStore(store).store).toBe(store);
    express().use(expressSessionbridge({ store, secret, resave: false, saveUninitialized: false }));
    express().use(session({ store: createExpressStore(store), secret, resave: false, saveUninitialized: false }));

    expect(createFastifyStore(store).store).toBe(store);
    const fastify = Fastify();
    await fastify.register(fastifySessionbridge, { store, secret, closeStore: false });
    await fastify.close();

    const app = new Koa();
    app.use(koaSession({ store: createKoaStore(store), key: "connect.sid", signed: false, externalKey: expressCookie({ secret }) }, app));
    expect(createKoaStore(store).store).toBe(store);
  });
});
