import express from "express";
import Fastify from "fastify";
import Koa from "koa";
import request from "supertest";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createSessionStore, type SessionStore } from "@sessionbridge/core";
import { readinessRoute } from "@sessionbridge/fastify";
import { readiness as koaReadiness } from "@sessionbridge/koa";
import { startRedis, uniquePrefix, type RedisServer } from "@sessionbridge/testing";
import { readiness } from "../src/index.js";

/**
 * Readiness on all three frameworks against a real redis-server: 200 while the store can serve, 503 while
 * Redis is down and once the store is closed (shutdown), and no host, port or password unless `details`.
 */

const PASSWORD = "readiness-password-that-must-not-leak";

interface Probe {
  name: string;
  get(details?: boolean): Promise<{ status: number; body: Record<string, unknown>; cacheControl: string | undefined }>;
}

function expressProbe(store: SessionStore): Probe {
  const app = express();
  app.get("/ready", readiness(store));
  app.get("/ready/details", readiness(store, { details: true }));
  return {
    name: "express",
    async get(details) {
      const r = await request(app).get(details ? "/ready/details" : "/ready");
      return { status: r.status, body: r.body as Record<string, unknown>, cacheControl: r.headers["cache-control"] };
    },
  };
}

function koaProbe(store: SessionStore): Probe {
  const app = new Koa();
  app.use(koaReadiness(store, { path: "/ready" }));
  app.use(koaReadiness(store, { path: "/ready/details", details: true }));
  app.use((ctx) => {
    ctx.body = "app";
  });
  const server = app.callback();
  return {
    name: "koa",
    async get(details) {
      const r = await request(server).get(details ? "/ready/details" : "/ready");
      return { status: r.status, body: r.body as Record<string, unknown>, cacheControl: r.headers["cache-control"] };
    },
  };
}

function fastifyProbe(store: SessionStore): Probe {
  const app = Fastify();
  app.route(readinessRoute(store));
  app.route(readinessRoute(store, { url: "/ready/details", details: true }));
  return {
    name: "fastify",
    async get(details) {
      const r = await app.inject({ method: "GET", url: details ? "/ready/details" : "/ready" });
      return { status: r.statusCode, body: r.json() as Record<string, unknown>, cacheControl: r.headers["cache-control"] as string | undefined };
    },
  };
}

describe("readiness on a real redis-server", () => {
  let server: RedisServer;
  let store: SessionStore;
  beforeAll(async () => {
    server = await startRedis({ kind: "requirepass", password: PASSWORD });
  });
  afterEach(async () => {
    await store?.close();
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it("answers 200 while Redis serves and 503 while it is down, on every framework, naming no host unless asked", async () => {
    store = createSessionStore({ url: server.url, prefix: uniquePrefix("ready"), timeoutMs: 400 });
    const probes = [expressProbe(store), koaProbe(store), fastifyProbe(store)];
    for (const probe of probes) {
      const ready = await probe.get();
      expect([probe.name, ready.status, ready.body, ready.cacheControl]).toEqual([probe.name, 200, { status: "ready", nodes: 1, down: 0 }, "no-store"]);
      const detailed = await probe.get(true);
      expect(detailed.body).toMatchObject({ status: "ready", backend: `redis 127.0.0.1:${server.port}` });
      expect(JSON.stringify(detailed.body)).not.toContain(PASSWORD);
    }
    await server.stop();
    try {
      for (const probe of probes) {
        const down = await probe.get();
        expect([probe.name, down.status, down.body]).toEqual([probe.name, 503, { status: "unavailable", nodes: 1, down: 1 }]);
        expect(JSON.stringify(down.body)).not.toContain(String(server.port));
        const detailed = await probe.get(true);
        expect(detailed.status).toBe(503);
        expect(JSON.stringify(detailed.body)).not.toContain(PASSWORD);
      }
    } finally {
      await server.restart();
    }
  });

  it("answers 503 once the store is closed for a shutdown", async () => {
    store = createSessionStore({ url: server.url, prefix: uniquePrefix("ready"), timeoutMs: 400 });
    const probes = [expressProbe(store), koaProbe(store), fastifyProbe(store)];
    await store.close();
    for (const probe of probes) expect([probe.name, (await probe.get()).status]).toEqual([probe.name, 503]);
  });

  it("refuses a bad option at construction, naming it", () => {
    store = createSessionStore({ url: "memory://" });
    expect(() => readiness(store, { details: "yes" as unknown as boolean })).toThrow(/"details"/);
    expect(() => readiness({} as SessionStore)).toThrow(/"store"/);
    expect(() => readinessRoute(store, { url: "ready" })).toThrow(/"url"/);
    expect(() => koaReadiness(store, { path: "ready" })).toThrow(/"path"/);
  });
});
