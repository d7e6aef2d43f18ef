import { afterEach, describe, expect, it } from "vitest";
import { createSessionStore, type Backend, type SessionStore, type SessionStoreOptions } from "@sessionbridge/core";
import { rejection, uniquePrefix } from "./contract.js";

/**
 * The store's limits, the same on every backend: TTL units and caps, nesting depth, shutdown. Run once
 * per backend kind (one Redis, one Memcached, memory), not per topology: these are store rules, and the
 * backend part they exercise (the TTL a command carries) is the same in every topology.
 */
export interface LimitsTarget {
  name: string;
  /** A fresh backend (the suite closes it with its store). */
  backend(): Backend | Promise<Backend>;
  /** True when a fresh backend sees what another one wrote (a server; not the in-process memory backend). */
  shared: boolean;
}

/** 400 days in ms: the documented cap of `ttlMs`. */
const MAX_TTL_MS = 400 * 24 * 3600 * 1000;

/** A stored record written by hand (what an older version or another writer left), with body fields given. */
function envelope(body: Record<string, unknown>): string {
  return `sb1:handwritten1:${JSON.stringify(body)}`;
}

/** Data nesting `levels` objects, the data object itself included: nested(1) is `{ leaf: true }`. */
function nested(levels: number): Record<string, unknown> {
  let data: Record<string, unknown> = { leaf: true };
  for (let level = 1; level < levels; level++) data = { next: data };
  return data;
}

/** The same nesting as JSON text (built as text: JSON.stringify of thousands of levels overflows the stack). */
function nestedJson(levels: number): string {
  return '{"next":'.repeat(levels - 1) + '{"leaf":true}' + "}".repeat(levels - 1);
}

export function limitsContract(target: LimitsTarget): void {
  describe(`store limits: ${target.name}`, () => {
    const opened: SessionStore[] = [];
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((store) => store.close()));
    });

    async function open(options: Partial<SessionStoreOptions> = {}): Promise<SessionStore & { prefix: string }> {
      const prefix = options.prefix ?? uniquePrefix("lim");
      const store = createSessionStore({ timeoutMs: 2000, ...options, backend: await target.backend(), prefix });
      opened.push(store);
      return Object.assign(store, { prefix });
    }

    describe("ttlMs: whole milliseconds, at most 400 days", () => {
      // 86 400 000 / 7 * 3 is what "three sevenths of a day" computes to: 37 028 571.428…
      it.each([90_061.5, 86_400_000 / 7 * 3])("rounds a per-call ttlMs of %d up to whole ms, and the session stays readable", async (ttlMs) => {
        const store = await open();
        await store.set("fraction", { a: 1 }, { ttlMs });
        // The first read slides the TTL to the session's own (≠ the store's default): the command that failed.
        expect(await store.get("fraction")).toEqual({ a: 1 });
        const loaded = await store.load("fraction");
        expect(loaded?.ttlMs).toBe(Math.ceil(ttlMs));
        const outcome = await store.save("fraction", { a: 2 }, { previous: loaded, ttlMs: ttlMs + 1000 });
        expect(outcome.status).toBe("written");
        expect(await store.get("fraction")).toEqual({ a: 2 });
        expect(await store.touch("fraction", { ttlMs })).toBe(true);
      });

      it("reads with a fractional per-call ttlMs, and a store ttlMs of 3.7 ms is 4 ms", async () => {
        const store = await open();
        await store.set("hint", { a: 1 }, { ttlMs: 60_000 });
        expect(await store.get("hint", { ttlMs: 90_061.5 })).toEqual({ a: 1 });
        const short = await open({ ttlMs: 3.7 });
        expect(short.options.ttlMs).toBe(4);
        // Whether it is still there 4 ms later depends on the machine; what matters is that no command fails.
        await short.set("short", { a: 1 });
        await short.get("short");
        await short.set("short", { a: 1 }, { ttlMs: 3.7 });
        await short.get("short");
      });

      it("refuses a ttlMs over 400 days naming ttlMs, per call and as a store option, and writes nothing", async () => {
        const store = await open();
        for (const ttlMs of [1e20, MAX_TTL_MS + 1]) {
          const set = await rejection(store.set("huge", { a: 1 }, { ttlMs }));
          expect(set.code).toBe("CONFIG");
          expect(set.message).toContain('"ttlMs"');
          expect(set.message).toContain("400 days");
          expect((await rejection(store.save("huge", { a: 1 }, { previous: null, ttlMs }))).code).toBe("CONFIG");
          expect((await rejection(store.get("huge", { ttlMs }))).code).toBe("CONFIG");
          expect((await rejection(store.touch("huge", { ttlMs }))).code).toBe("CONFIG");
          expect(() => createSessionStore({ backend: store.backend, ttlMs })).toThrow(/"ttlMs".*400 days/);
        }
        expect(await store.backend.get(`${store.prefix}huge`)).toBeNull();
        await store.set("longest", { a: 1 }, { ttlMs: MAX_TTL_MS });
        expect((await store.load("longest"))?.ttlMs).toBe(MAX_TTL_MS);
      });

      it.each([
        ["fractional", 90_061.5, 90_062],
        ["absurd", 1e20, MAX_TTL_MS],
      ])("reads a stored record whose TTL is %s (%d) as a session with a whole, capped TTL", async (_kind, t, expected) => {
        const store = await open();
        const now = Date.now();
        await store.backend.set(`${store.prefix}stored`, envelope({ d: { a: 1 }, c: now, e: now + 60_000, t }), 60_000);
        expect(await store.get("stored")).toEqual({ a: 1 });
        const loaded = await store.load("stored");
        expect(loaded?.ttlMs).toBe(expected);
        expect(loaded!.expiresAtMs).toBeLessThanOrEqual(Date.now() + MAX_TTL_MS);
        const outcome = await store.save("stored", { a: 2 }, { previous: loaded });
        expect(outcome.status).toBe("written");
        expect(await store.get("stored")).toEqual({ a: 2 });
      });
    });

    describe("depth: at most 100 levels, the same on write and read", () => {
      it("writes and reads data nested 100 levels deep", async () => {
        const store = await open();
        await store.set("deepest", nested(100));
        expect(await store.get("deepest")).toEqual(nested(100));
        const loaded = await store.load("deepest");
        expect((await store.save("deepest", { ...nested(100), more: 1 }, { previous: loaded })).status).toBe("written");
      });

      it.each([101, 5000])("refuses data nested %d levels deep, saying it is too deep and the limit, and writes nothing", async (levels) => {
        const store = await open();
        for (const write of [() => store.set("deep", nested(levels)), () => store.save("deep", nested(levels), { previous: null })]) {
          const refused = await rejection(write);
          expect(refused.code).toBe("CONFIG");
          expect(refused.message).toMatch(/too deep/);
          expect(refused.message).toContain("100 levels");
        }
        await store.set("deep", { a: 1 });
        const loaded = await store.load("deep");
        expect((await rejection(store.save("deep", { a: nested(levels) }, { previous: loaded }))).message).toMatch(/too deep/);
        expect(await store.get("deep")).toEqual({ a: 1 });
      });

      it.each([101, 5000])("reads stored data nested %d levels deep as no session and emits 'corrupt'", async (levels) => {
        const store = await open();
        const corrupt: unknown[] = [];
        store.on("corrupt", (error) => corrupt.push(error));
        const now = Date.now();
        const body = `{"d":${nestedJson(levels)},"c":${now},"e":${now + 60_000},"t":60000}`;
        await store.backend.set(`${store.prefix}stored-deep`, `sb1:handwritten1:${body}`, 60_000);
        expect(await store.get("stored-deep")).toBeNull();
        expect(corrupt).toHaveLength(1);
      });
    });

    describe("close(): started operations finish, new ones are refused", () => {
      it("writes all of 20 sets started just before close(), refuses operations after it with CLOSED, then closes", async () => {
        const store = await open();
        const writes = Array.from({ length: 20 }, (_, i) => store.set(`drain-${i}`, { i }));
        const closing = store.close();
        for (const late of [() => store.get("drain-0"), () => store.set("late", { a: 1 }), () => store.destroy("drain-1"), () => store.ping()]) {
          expect((await rejection(late)).code).toBe("CLOSED");
        }
        await expect(Promise.all(writes)).resolves.toHaveLength(20);
        await closing;
        await expect(store.close()).resolves.toBeUndefined();
        if (!target.shared) return;
        const check = await open({ prefix: store.prefix });
        for (let i = 0; i < 20; i++) expect(await check.get(`drain-${i}`)).toEqual({ i });
        expect(await check.get("late")).toBeNull();
        expect(await check.get("drain-1")).not.toBeNull();
      });
    });
  });
}
