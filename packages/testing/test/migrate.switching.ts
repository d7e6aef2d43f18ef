import { expect, it, afterAll, beforeAll, describe } from "vitest";
import type { SessionStoreOptions } from "@sessionbridge/core";
import { commandsBetween, type AdapterBackend } from "../src/index.js";
import { Browser, MAX_AGE_MS, startApp, type App, type Framework } from "./migrate.apps.js";

/** An incumbent session store as the migration tests use it: the real package, on the test's server. */
export interface Incumbent {
  name: string;
  format: "connect-redis" | "koa-redis" | "connect-memjs" | "connect-memcached";
  framework: Framework;
  /** The incumbent's key for a session id. */
  key: (id: string) => string;
  /** The incumbent's framework store on the server (its URL), and how to close its client. */
  open: (url: string) => Promise<{ store: unknown; close: () => Promise<void> }>;
}

/**
 * The switch as a user makes it, for each incumbent: log in on the incumbent's app, visit ours with the
 * same cookie, stay logged in; the session moved (our key exists, theirs is gone or kept per option);
 * one command per later unmodified request; nothing for a visitor without a cookie.
 */
export function describeSwitching(settings: {
  backend: () => AdapterBackend;
  exists: (key: string) => Promise<boolean>;
  incumbents: Incumbent[];
  /** The commands of an unmodified request of a session we hold. */
  oneRead: Record<string, number>;
  /** The commands of the first read of a session not moved yet. */
  firstRead: Record<string, number>;
}): void {
  const { backend, exists, incumbents, oneRead, firstRead } = settings;
  describe.each(incumbents)("switching from $name", (incumbent) => {
    let old: { store: unknown; close: () => Promise<void> };
    let oldApp: App;
    const apps: App[] = [];
    const ours = async (options: Omit<SessionStoreOptions, "backend" | "url"> = {}) => {
      const core = backend().createStore({ prefix: "sb:", migrateFrom: { format: incumbent.format }, ...options });
      const app = await startApp(incumbent.framework, { ours: core });
      apps.push(app);
      return { core, app };
    };
    /** A browser that logged in (and viewed a page) on the incumbent's app. */
    const loggedInOnIncumbent = async () => {
      const browser = new Browser();
      expect((await browser.send(oldApp, "POST", "/login")).status).toBe(200);
      expect((await browser.send(oldApp, "POST", "/view")).status).toBe(200);
      const id = browser.sessionId(incumbent.framework);
      expect(await exists(incumbent.key(id))).toBe(true);
      return { browser, id };
    };

    beforeAll(async () => {
      old = await incumbent.open(backend().url as string);
      oldApp = await startApp(incumbent.framework, { incumbent: old.store });
    });
    afterAll(async () => {
      await Promise.all(apps.splice(0).map((app) => app.close()));
      await oldApp?.close();
      await old?.close();
    });

    it("keeps the user logged in and moves the session to our key, deleting theirs", async () => {
      const { browser, id } = await loggedInOnIncumbent();
      const before = await browser.me(oldApp);
      const { core, app } = await ours();
      const me = await browser.me(app);
      expect(me).toMatchObject({ user: "ada", views: 2, maxAgeMs: MAX_AGE_MS });
      // The cookie's expiry as the incumbent stored it (our read then slides it like any read does).
      expect(me.expiresAtMs).toBeGreaterThanOrEqual((before.expiresAtMs as number) - 1000);
      // koa-session checks `_expire` itself: it is exactly the incumbent's.
      if (incumbent.framework === "koa") expect(me.expiresAtMs).toBe(before.expiresAtMs);
      expect(await exists(`sb:${id}`)).toBe(true);
      expect(await exists(incumbent.key(id))).toBe(false);
      const loaded = await core.load(id);
      expect(loaded?.ttlMs).toBe(MAX_AGE_MS);
      // Only the user's data: the framework's own fields (cookie, _expire, _maxAge) became the record's expiry.
      expect(loaded?.data).toEqual({ user: "ada", views: 2 });
      // It is an ordinary session of ours now: changes stick, and it stays logged in.
      expect((await browser.send(app, "POST", "/view")).status).toBe(200);
      expect(await browser.me(app)).toMatchObject({ user: "ada", views: 3 });
      // Why a mixed fleet wants keepSource (docs/switching.md): an old instance cannot read a moved
      // session, and @fastify/session even clears the cookie of a session it cannot find.
      const elsewhere = new Browser();
      for (const [name, value] of browser.cookies) elsewhere.cookies.set(name, value);
      expect((await elsewhere.me(oldApp)).user).toBeNull();
      if (incumbent.framework === "fastify") expect(elsewhere.cookies.get("sid")).toBe("");
    });

    it("costs one command per unmodified request once moved, and nothing for a visitor without a cookie", async () => {
      const { browser } = await loggedInOnIncumbent();
      const { app } = await ours();
      let before = await backend().commandCalls!();
      expect((await browser.me(app)).user).toBe("ada");
      // Our miss, their GET, the create-only copy (written with the slid TTL), their DEL.
      expect(commandsBetween(before, await backend().commandCalls!())).toEqual(firstRead);
      before = await backend().commandCalls!();
      expect((await browser.me(app)).user).toBe("ada");
      expect(commandsBetween(before, await backend().commandCalls!())).toEqual(oneRead);
      before = await backend().commandCalls!();
      expect((await new Browser().me(app)).user).toBeNull();
      expect(commandsBetween(before, await backend().commandCalls!())).toEqual({});
    });

    it("with keepSource, leaves the incumbent's copy for old instances and a rollback, and a logout ends both", async () => {
      const { browser, id } = await loggedInOnIncumbent();
      const { app } = await ours({ migrateFrom: { format: incumbent.format, keepSource: true } });
      expect((await browser.me(app)).user).toBe("ada");
      expect(await exists(`sb:${id}`)).toBe(true);
      expect(await exists(incumbent.key(id))).toBe(true);
      // An old instance still reads it during the rollout.
      expect((await browser.me(oldApp)).user).toBe("ada");
      expect((await browser.send(app, "POST", "/logout")).status).toBe(200);
      expect(await exists(`sb:${id}`)).toBe(false);
      expect(await exists(incumbent.key(id))).toBe(false);
      expect((await browser.me(app)).user).toBeNull();
    });
  });
}
