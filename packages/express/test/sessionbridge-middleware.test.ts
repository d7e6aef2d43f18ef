import type { Socket } from "node:net";
import express, { type RequestHandler } from "express";
import session from "express-session";
import request from "supertest";
import { afterAll, describe, expect, it } from "vitest";
import { createSessionStore, type SessionStore } from "@sessionbridge/core";
import { signedCookieValue } from "@sessionbridge/testing";
import { createExpressStore, sessionbridge, type SessionbridgeOptions } from "../src/index.js";

const SECRET = "a test secret that is long enough for every framework";
const stores: SessionStore[] = [];
afterAll(async () => {
  await Promise.all(stores.map((store) => store.close()));
});

function coreStore(): SessionStore {
  const store = createSessionStore({ url: "memory://", ttlMs: 120_000 });
  stores.push(store);
  return store;
}

function makeApp(core: SessionStore, options: Omit<SessionbridgeOptions, "store" | "secret">) {
  const middleware = sessionbridge({ store: core, secret: SECRET, name: "sid", resave: false, saveUninitialized: false, rolling: true, ...options });
  let generated = 0;
  const generate = (middleware.store as unknown as { generate: (req: unknown) => void }).generate;
  (middleware.store as unknown as { generate: (req: unknown) => void }).generate = function counted(this: unknown, req: unknown) {
    generated++;
    generate.call(this, req);
  };
  const app = express();
  app.use(middleware);
  app.get("/me", (req, res) => void res.json({ user: (req.session as unknown as { user?: string }).user ?? null }));
  return { app, generated: () => generated };
}

/** A session as Fastify or Koa would have written it: the record carries no express cookie. */
async function elsewhere(core: SessionStore, id: string): Promise<string> {
  await core.set(id, { user: "ada" });
  return `sid=${signedCookieValue(id, SECRET)}`;
}

function sidCookie(response: request.Response): string {
  const cookie = (response.headers["set-cookie"] as unknown as string[] | undefined)?.find((c) => c.startsWith("sid="));
  if (cookie === undefined) throw new Error("no sid cookie in the response");
  return cookie;
}

describe("sessionbridge(): express-session with the cookie configuration learned once", () => {
  it("gives a loaded session the configured attributes without building a throw-away session per request", async () => {
    const core = coreStore();
    const { app, generated } = makeApp(core, { cookie: { maxAge: 60_000, sameSite: "strict", domain: "example.test", path: "/m" } });
    const cookie = await elsewhere(core, "loaded-session-1");
    for (let i = 0; i < 3; i++) {
      const response = await request(app).get("/me").set("Cookie", cookie).expect(200);
      expect(response.body.user).toBe("ada");
      const set = sidCookie(response);
      expect(set).toMatch(/SameSite=Strict/);
      expect(set).toMatch(/Domain=example\.test/);
      expect(set).toMatch(/Path=\/m;/);
      expect(set).toMatch(/HttpOnly/);
      // The session's own idle timeout (2 min), not the configured maxAge (1 min), sets the expiry.
      expect(Date.parse(/Expires=([^;]+)/.exec(set)?.[1] ?? "") - Date.now()).toBeGreaterThan(90_000);
    }
    // express-session's store.generate mints a session id and builds a Session: only for new visitors.
    expect(generated()).toBe(0);
    await request(app).get("/me").expect(200);
    expect(generated()).toBe(1);
  });

  it('resolves secure: "auto" and sameSite: "auto" for each request (proxy: true reads X-Forwarded-Proto)', async () => {
    const core = coreStore();
    const { app } = makeApp(core, { proxy: true, cookie: { maxAge: 60_000, secure: "auto", sameSite: "auto" } as never });
    const cookie = await elsewhere(core, "auto-secure-1");
    const https = sidCookie(await request(app).get("/me").set("Cookie", cookie).set("X-Forwarded-Proto", "https").expect(200));
    expect(https).toMatch(/; Secure/);
    expect(https).toMatch(/SameSite=None/);
    const http = sidCookie(await request(app).get("/me").set("Cookie", cookie).set("X-Forwarded-Proto", "http").expect(200));
    expect(http).not.toMatch(/; Secure/);
    expect(http).toMatch(/SameSite=Lax/);
  });

  it("calls a cookie option given as a function for each request", async () => {
    const core = coreStore();
    const { app } = makeApp(core, { cookie: ((req: express.Request) => ({ maxAge: 60_000, domain: req.get("x-tenant") === "b" ? "b.example.test" : "a.example.test" })) as never });
    const cookie = await elsewhere(core, "cookie-function-1");
    expect(sidCookie(await request(app).get("/me").set("Cookie", cookie).set("X-Tenant", "b").expect(200))).toMatch(/Domain=b\.example\.test/);
    expect(sidCookie(await request(app).get("/me").set("Cookie", cookie).set("X-Tenant", "a").expect(200))).toMatch(/Domain=a\.example\.test/);
  });

  it("rejects bad options at construction with a CONFIG error naming the option", () => {
    const core = coreStore();
    expect(() => sessionbridge({ store: {} as never, secret: SECRET })).toThrow(/option "store"/);
    expect(() => sessionbridge({ store: core } as never)).toThrow(/option "secret"/);
    expect(() => sessionbridge({ store: core, secret: SECRET, cookie: 5 as never })).toThrow(/option "cookie"/);
    expect(() => sessionbridge({ store: core, secret: SECRET, proxy: "yes" as never })).toThrow(/option "proxy"/);
    expect(() => sessionbridge({ store: core, secret: SECRET, whenUnavailable: "ignore" as never })).toThrow(/whenUnavailable/);
  });

  it("sends a response whose session it saved in one write to the socket (express-session alone sends it in two)", async () => {
    /** Writes to the socket (the calls that reach the kernel) while answering one request that changes its session. */
    const socketWrites = async (mount: RequestHandler): Promise<number> => {
      let writes = 0;
      const app = express();
      app.use((req, _res, next) => {
        const socket = req.socket as Socket & { _write: (...a: unknown[]) => void; _writev: (...a: unknown[]) => void };
        const write = socket._write;
        const writev = socket._writev;
        socket._write = function (...args: unknown[]) {
          writes++;
          return write.apply(this, args);
        };
        socket._writev = function (...args: unknown[]) {
          writes++;
          return writev.apply(this, args);
        };
        next();
      });
      app.use(mount);
      app.get("/login", (req, res) => void ((req.session as unknown as { user: string }).user = "ada", res.send("welcome, ada")));
      const response = await request(app).get("/login").expect(200);
      expect(response.text).toBe("welcome, ada");
      expect(sidCookie(response)).toMatch(/^sid=s%3A/);
      return writes;
    };
    const options = { secret: SECRET, name: "sid", resave: false, saveUninitialized: false };
    expect(await socketWrites(sessionbridge({ store: coreStore(), ...options }))).toBe(1);
    // The same save through express-session and the plain store: headers and body but its last byte, then that byte.
    expect(await socketWrites(session({ store: createExpressStore(coreStore()), ...options }))).toBe(2);
  });
});
