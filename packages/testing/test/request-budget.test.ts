import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSessionStore, type SessionStore } from "@sessionbridge/core";
import { SessionTracker, type RequestBudget } from "@sessionbridge/core/adapter";
import { startRedis, type RedisServer } from "../src/index.js";

// The operations of one HTTP request share one deadline (core's request-budget.ts), shown here without
// measuring time: by which deadline answers. A real redis-server is made slow with CLIENT PAUSE (it
// holds every client's commands for the given time) and hung with SIGSTOP.

const TIMEOUT_MS = 2000;
const PAUSE_MS = 1200; // one paused command fits in timeoutMs; a second one does not fit in what is left

describe("one deadline per request", () => {
  let server: RedisServer;
  let store: SessionStore;
  let sessions: SessionTracker;
  const slowDown = () => server.command("CLIENT", "PAUSE", String(PAUSE_MS), "ALL");

  beforeAll(async () => {
    server = await startRedis();
    store = createSessionStore({ url: server.url, timeoutMs: TIMEOUT_MS });
    sessions = new SessionTracker(store);
  });
  afterAll(async () => {
    await store?.close();
    await server?.dispose();
  });

  it("gives a request's second operation only what is left of the request's deadline", async () => {
    await store.set("budget-slow", { a: 1 });
    // Another request's save against the same slow server: its own deadline is enough.
    await slowDown();
    await expect(sessions.commit("budget-slow", {}, { a: 2 }, { budget: {} })).resolves.toBeUndefined();

    const budget: RequestBudget = {};
    await slowDown();
    const loaded = await sessions.load("budget-slow", budget); // slow, within the store's deadline
    expect(loaded?.data).toEqual({ a: 2 });
    await slowDown();
    const holder = {};
    sessions.attach(holder, loaded!);
    // The same save, now the request's second slow operation: the request's deadline answers.
    await expect(sessions.commit("budget-slow", holder, { a: 3 }, { budget })).rejects.toMatchObject({ code: "TIMEOUT", message: expect.stringContaining(`the rest of this request's ${TIMEOUT_MS} ms for the store`) });
  });

  it("does not start an operation once the request's time for the store is spent", async () => {
    const spent: RequestBudget = { spentMs: TIMEOUT_MS };
    await expect(sessions.destroy("budget-spent", spent)).rejects.toMatchObject({ code: "TIMEOUT", message: expect.stringContaining("not started") });
  });

  it("does not count the application's own time between operations (a slow password hash is not an outage)", async () => {
    await store.set("budget-app-time", { a: 1 });
    const budget: RequestBudget = {};
    const loaded = await sessions.load("budget-app-time", budget);
    // The application works longer than the whole deadline before it saves (scrypt under load, a slow
    // database query): the store has been asked for a few milliseconds only, so the save runs.
    await new Promise((resolve) => setTimeout(resolve, TIMEOUT_MS + 200));
    const holder = {};
    sessions.attach(holder, loaded!);
    await expect(sessions.commit("budget-app-time", holder, { a: 2 }, { budget })).resolves.toBeUndefined();
    expect(await store.get("budget-app-time")).toEqual({ a: 2 });
  });

  it("fails the request's next operations at once, with the same error, after one failed because the backend hangs", async () => {
    const budget: RequestBudget = {};
    await store.ping();
    server.pause();
    try {
      const first = await sessions.load("budget-hung", budget).catch((error: unknown) => error);
      expect(first).toMatchObject({ code: "TIMEOUT" });
      // The very error object of the first failure: the store was not asked again.
      await expect(sessions.destroy("budget-hung", budget)).rejects.toBe(first);
      await expect(sessions.commit("budget-hung", {}, { a: 1 }, { budget })).rejects.toBe(first);
    } finally {
      server.resume();
    }
  });
});
