import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import express from "express";
import session from "express-session";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { SessionStore } from "@sessionbridge/core";
import { createExpressStore } from "./security.express.js";
import { ADAPTER_BACKENDS, startAdapterBackend, type AdapterBackend } from "../src/adapter-backends.js";

/**
 * Logouts that stick and concurrent updates, proven with real concurrent HTTP requests: several
 * Express instances (each with its own store and connection, like instances behind a load balancer)
 * on one backend. A request is held open at a gate after express-session loaded its session, while
 * another request logs out or changes the session; then it is released and its save is observed.
 */

const SECRET = "a test secret that is long enough for express-session";

interface Gate {
  entered: Promise<void>;
  enter: () => void;
  release: () => void;
  released: Promise<void>;
}

function gate(): Gate {
  let enter!: () => void;
  let release!: () => void;
  const entered = new Promise<void>((resolve) => (enter = resolve));
  const released = new Promise<void>((resolve) => (release = resolve));
  return { entered, enter, released, release };
}

interface Instance {
  url: string;
  core: SessionStore;
  gates: Map<string, Gate>;
  /** Errors that reached Express (express-session saves after the handler, so a failed save still answers 200). */
  errors: Array<{ code?: string }>;
}

const servers: Server[] = [];

async function instance(core: SessionStore): Promise<Instance> {
  const gates = new Map<string, Gate>();
  const app = express();
  app.use(session({ store: createExpressStore(core), secret: SECRET, name: "sid", resave: false, saveUninitialized: false }));
  const s = (req: express.Request) => req.session as unknown as Record<string, unknown>;
  app.post("/login/:user", (req, res, next) => {
    req.session.regenerate((error) => {
      if (error) return next(error);
      s(req).userId = req.params.user;
      res.json({ ok: true });
    });
  });
  app.get("/me", (req, res) => res.json({ ...s(req), cookie: undefined }));
  // Sets one field; with ?gate=name the request waits (session loaded) until the test releases it.
  app.post("/set/:field/:value", async (req, res) => {
    const name = typeof req.query.gate === "string" ? req.query.gate : undefined;
    const held = name === undefined ? undefined : gates.get(name);
    if (held) {
      held.enter();
      await held.released;
    }
    s(req)[String(req.params.field)] = req.params.value;
    res.json({ ok: true });
  });
  app.post("/logout", (req, res, next) => req.session.destroy((error) => (error ? next(error) : res.json({ ok: true }))));
  app.post("/logout-everywhere", async (req, res, next) => {
    try {
      res.json({ destroyed: await core.destroySessionsOf(String(s(req).userId)) });
    } catch (error) {
      next(error);
    }
  });
  const errors: Array<{ code?: string }> = [];
  app.use((error: { code?: string }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    errors.push(error);
    if (!res.headersSent) res.status(500).json({ code: error.code });
  });
  const server = app.listen(0, "127.0.0.1");
  servers.push(server);
  await new Promise<void>((resolve) => server.once("listening", () => resolve()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, core, gates, errors };
}

async function call(target: Instance, method: "GET" | "POST", path: string, cookie?: string): Promise<{ status: number; body: Record<string, unknown>; cookie: string | undefined }> {
  const response = await fetch(target.url + path, { method, headers: cookie ? { cookie } : {} });
  const setCookie = response.headers.getSetCookie().find((c) => c.startsWith("sid="));
  return { status: response.status, body: (await response.json()) as Record<string, unknown>, cookie: setCookie?.split(";")[0] };
}

/** Two requests that both load the same version of the session before either writes; the first writes first. */
async function race(first: [Instance, string], second: [Instance, string], cookie: string): Promise<void> {
  const gates = [gate(), gate()] as const;
  first[0].gates.set("race", gates[0]);
  second[0].gates.set("race", gates[1]);
  const requests = [call(first[0], "POST", `${first[1]}?gate=race`, cookie), call(second[0], "POST", `${second[1]}?gate=race`, cookie)];
  await Promise.all([gates[0].entered, gates[1].entered]);
  gates[0].release();
  await requests[0];
  gates[1].release();
  await requests[1];
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

describe.each(ADAPTER_BACKENDS)("concurrent requests through express-session on %s", (kind) => {
  let backend: AdapterBackend;
  beforeAll(async () => {
    backend = await startAdapterBackend(kind);
  });
  afterAll(async () => {
    await backend?.dispose();
  });
  const two = async () => Promise.all([instance(backend.createStore({ userIdFrom: (d) => d.userId })), instance(backend.createStore({ userIdFrom: (d) => d.userId }))]);

  it("does not write back a session that was logged out while a request on another instance held it", async () => {
    const [a, b] = await two();
    const cookie = (await call(a, "POST", "/login/ada")).cookie!;
    const held = gate();
    a.gates.set("slow", held);
    const slow = call(a, "POST", "/set/cart/full?gate=slow", cookie);
    await held.entered;
    expect((await call(b, "POST", "/logout", cookie)).status).toBe(200);
    held.release();
    expect((await slow).status).toBe(200);
    // The in-flight write did not resurrect the session, on either instance.
    expect((await call(a, "GET", "/me", cookie)).body).not.toHaveProperty("userId");
    expect((await call(b, "GET", "/me", cookie)).body).not.toHaveProperty("cart");
  });

  it("does not write back a session revoked by 'log out everywhere' while a request held it", async () => {
    if (kind === "memcached") return expect(backend.createStore().backend.capabilities.userIndex).toBe(false);
    const [a, b] = await two();
    const phone = (await call(a, "POST", "/login/ada")).cookie!;
    const laptop = (await call(b, "POST", "/login/ada")).cookie!;
    const held = gate();
    a.gates.set("slow", held);
    const slow = call(a, "POST", "/set/cart/full?gate=slow", phone);
    await held.entered;
    expect((await call(b, "POST", "/logout-everywhere", laptop)).body).toEqual({ destroyed: 2 });
    held.release();
    await slow;
    expect((await call(b, "GET", "/me", phone)).body).not.toHaveProperty("userId");
    expect((await call(a, "GET", "/me", laptop)).body).not.toHaveProperty("userId");
  });

  it("keeps both of two concurrent requests that change different fields", async () => {
    const [a, b] = await two();
    const cookie = (await call(a, "POST", "/login/ada")).cookie!;
    await race([a, "/set/theme/dark"], [b, "/set/cart/3-items"], cookie);
    expect((await call(a, "GET", "/me", cookie)).body).toMatchObject({ userId: "ada", theme: "dark", cart: "3-items" });
  });

  it("on a clash over one field, the later write wins and a 'conflict' event names the field", async () => {
    const [a, b] = await two();
    const conflicts: string[][] = [];
    b.core.on("conflict", ({ fields }) => conflicts.push(fields));
    const cookie = (await call(a, "POST", "/login/ada")).cookie!;
    await race([a, "/set/theme/dark"], [b, "/set/theme/light"], cookie);
    expect((await call(a, "GET", "/me", cookie)).body).toMatchObject({ theme: "light" });
    if (backend.createStore().backend.capabilities.compareAndSet) expect(conflicts).toEqual([["theme"]]);
  });

  it("loses no field when many requests on several instances change one session at once", async () => {
    const instances = [...(await two()), ...(await two())];
    const cookie = (await call(instances[0]!, "POST", "/login/ada")).cookie!;
    await Promise.all(Array.from({ length: 16 }, (_, i) => call(instances[i % instances.length]!, "POST", `/set/f${i}/v${i}`, cookie)));
    // A save that loses more races than the store retries within timeoutMs fails with CONFLICT (an
    // error the app sees) instead of losing the field silently.
    const failed = instances.flatMap((i) => i.errors);
    expect(failed.map((error) => error.code).filter((code) => code !== "CONFLICT")).toEqual([]);
    const body = (await call(instances[1]!, "GET", "/me", cookie)).body;
    const kept = Array.from({ length: 16 }, (_, i) => body[`f${i}`] === `v${i}`).filter(Boolean).length;
    expect(kept + failed.length).toBe(16);
    expect(kept).toBeGreaterThan(0);
  });
});
