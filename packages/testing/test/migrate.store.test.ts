import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSessionStore, type SessionStore } from "@sessionbridge/core";
import { commandsBetween, eventually, startAdapterBackend, startMemcached, type AdapterBackend } from "../src/index.js";
import { Browser, startApp, type App } from "./migrate.apps.js";

/**
 * Another sessionbridge store as the source: Memcached → Redis (with a new prefix, hashed keys and the
 * per-user index), and Redis → Redis under a new prefix, by reading through the old store on a miss.
 */

let memcached: AdapterBackend;
let redis: AdapterBackend;
const apps: App[] = [];
const stores: SessionStore[] = [];
const track = (store: SessionStore) => (stores.push(store), store);

beforeAll(async () => {
  [memcached, redis] = await Promise.all([startAdapterBackend("memcached"), startAdapterBackend("redis")]);
});
afterAll(async () => {
  await Promise.all(apps.map((app) => app.close()));
  await Promise.all(stores.map((store) => store.close()));
  await Promise.all([memcached?.dispose(), redis?.dispose()]);
});

describe("moving from a sessionbridge store on Memcached to one on Redis", () => {
  it("keeps users logged in through express, with their creation time, in the new store's format", async () => {
    const old = memcached.createStore();
    const oldApp = await startApp("express", { ours: old });
    apps.push(oldApp);
    const browser = new Browser();
    await browser.send(oldApp, "POST", "/login");
    const id = browser.sessionId("express");
    const createdAtMs = (await old.load(id))?.createdAtMs;

    const store = track(createSessionStore({ url: redis.url as string, prefix: "new:", keySecret: "s".repeat(32), userIdFrom: (data) => data.user, migrateFrom: { store: old } }));
    const app = await startApp("express", { ours: store });
    apps.push(app);
    expect(await browser.me(app)).toMatchObject({ user: "ada", views: 1 });
    expect(await old.load(id)).toBeNull(); // moved out of Memcached
    const moved = await store.load(id);
    expect(moved?.createdAtMs).toBe(createdAtMs);
    expect(moved?.userId).toBe("ada");
    expect((await store.sessionsOf("ada")).length).toBe(1);
    // Moved: an unmodified request is one GETEX on Redis, and Memcached is not asked any more.
    const before = await Promise.all([redis.commandCalls!(), memcached.commandCalls!()]);
    expect((await browser.me(app)).user).toBe("ada");
    const after = await Promise.all([redis.commandCalls!(), memcached.commandCalls!()]);
    expect(commandsBetween(before[0], after[0])).toEqual({ getex: 1 });
    expect(commandsBetween(before[1], after[1])).toEqual({});
    // A logout sticks in both.
    await browser.send(app, "POST", "/logout");
    expect((await browser.me(app)).user).toBeNull();
    expect((await browser.me(oldApp)).user).toBeNull();
  });

  it("lists a Memcached source through lru_crawler metadump and moves each session (sessionbridge migrate's loop)", async () => {
    const old = memcached.createStore({ prefix: "bulk:" });
    for (const id of ["m1", "m2", "m3"]) await old.set(id, { user: id }, { ttlMs: 120_000 });
    const store = track(createSessionStore({ url: redis.url as string, prefix: "new2:", migrateFrom: { store: old } }));
    const ids: string[] = [];
    for await (const id of store.migrateSource!.ids()) ids.push(id);
    expect(ids.sort()).toEqual(["m1", "m2", "m3"]);
    expect(await Promise.all(ids.map((id) => store.migrate(id)))).toEqual(["moved", "moved", "moved"]);
    expect(await old.load("m2")).toBeNull();
    expect((await store.load("m2"))?.data).toEqual({ user: "m2" });
  });

  it("cannot list a source whose keys are hashed (keySecret), and says so", async () => {
    const store = track(createSessionStore({ url: redis.url as string, prefix: "new3:", migrateFrom: { store: memcached.createStore({ keySecret: "k".repeat(32) }) } }));
    const listing = (async () => {
      for await (const _ of store.migrateSource!.ids());
    })();
    await expect(listing).rejects.toMatchObject({ code: "UNSUPPORTED" });
  });
});

describe("moving to a new prefix on the same Redis", () => {
  it("lists the old store's ids and moves each one, keeping its data and expiry", async () => {
    const old = redis.createStore({ prefix: "v1:" });
    for (const id of ["p1", "p2"]) await old.set(id, { user: id }, { ttlMs: 120_000 });
    const expiresAtMs = (await old.load("p1"))?.expiresAtMs as number;
    const store = track(createSessionStore({ url: redis.url as string, prefix: "v2:", migrateFrom: { store: old } }));
    const ids: string[] = [];
    for await (const id of store.migrateSource!.ids()) ids.push(id);
    expect(ids.sort()).toEqual(["p1", "p2"]);
    expect(await Promise.all(ids.map((id) => store.migrate(id)))).toEqual(["moved", "moved"]);
    expect(await old.length()).toBe(0);
    const p1 = await store.load("p1");
    expect(p1?.data).toEqual({ user: "p1" });
    expect(p1?.ttlMs).toBe(120_000);
    expect(p1?.writtenExpiresAtMs).toBeGreaterThanOrEqual(expiresAtMs - 1000);
  });

  it("refuses the store itself (or one with its backend and prefix) as its source", () => {
    const old = redis.createStore({ prefix: "same:" });
    expect(() => createSessionStore({ backend: old.backend, prefix: "same:", migrateFrom: { store: old } })).toThrow(/migrateFrom\.store/);
    expect(() => createSessionStore({ url: redis.url as string, migrateFrom: { store: old, format: "connect-redis" } as never })).toThrow(/migrateFrom\.format/);
  });
});

describe("a migration source that is down", () => {
  it("fails a read that needs it within the deadline (the user is not logged out), without marking the store unavailable, and recovers", async () => {
    const old = await startMemcached();
    const store = track(createSessionStore({ url: redis.url as string, prefix: "down:", timeoutMs: 500, migrateFrom: { format: "connect-memjs", url: old.url } }));
    const events: string[] = [];
    store.on("unavailable", () => events.push("unavailable"));
    await store.set("mine", { user: "moved-already" });
    await old.stop();
    try {
      await expect(store.load("not-moved-yet")).rejects.toMatchObject({ code: expect.stringMatching(/UNAVAILABLE|TIMEOUT/) });
      // Sessions already in this store do not need the source.
      expect((await store.load("mine"))?.data).toEqual({ user: "moved-already" });
      expect(events).toEqual([]);
      await old.restart();
      // The Memcached backend retries a failed node once a second.
      await eventually("the source answers again", async () => (await store.load("not-moved-yet")) === null);
    } finally {
      await old.dispose();
    }
  });
});
