import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { createSessionStore, isSessionStoreError, type Backend, type SessionStore, type SessionStoreOptions } from "@sessionbridge/core";
import { eventually } from "./wait.js";

export { eventually };

/**
 * THE shared contract suite: every backend (memory, Redis in every topology, Memcached) runs it, so
 * they all behave the same behind the store. A backend that cannot do something says so in `cannot`,
 * and those tests then assert the documented answer (UNSUPPORTED) instead of being skipped.
 */
export interface ContractTarget {
  /** Shown in test names: "redis standalone", "memcached 3 nodes". */
  name: string;
  /** A fresh backend on the target, one per store the suite opens (the suite closes it). */
  backend(): Backend | Promise<Backend>;
  /** capability → why it is missing; those tests assert UNSUPPORTED / the documented fallback instead. */
  cannot?: { scan?: string; compareAndSet?: string; userIndex?: string; pubsub?: string };
  /** Why the target's user may not use pub/sub (an ACL without channels): publish must then fail with AUTH naming the channel permission. */
  pubsubDenied?: string;
  /** "backend" when messages reach only subscribers of the same backend object (memory: one process). Default "server". */
  pubsubScope?: "backend" | "server";
  /** Granularity of the backend's TTLs in ms (1000 for memcached's whole seconds). Default 1. */
  ttlResolutionMs?: number;
}

/** Resolves with the rejection of `promise` (fails if it resolves), for asserting error codes. */
export async function rejection(promise: Promise<unknown> | (() => Promise<unknown>)): Promise<{ code: string; message: string }> {
  try {
    await (typeof promise === "function" ? promise() : promise);
  } catch (error) {
    if (!isSessionStoreError(error)) throw new Error(`expected a SessionStoreError, got ${String(error)}`, { cause: error });
    return { code: error.code, message: error.message };
  }
  throw new Error("expected a rejection, but the operation succeeded");
}

/** A unique key prefix under `sess:` (so an ACL user limited to `sess:*` can run the suite). */
export function uniquePrefix(tag = "ct"): string {
  return `sess:${tag}-${randomBytes(5).toString("hex")}:`;
}

/** Wraps a backend to count the calls that reach it (to prove a check happened before the backend). */
function counting(backend: Backend): { backend: Backend; calls: () => number } {
  let calls = 0;
  const counted = (name: "get" | "set" | "touch" | "delete" | "scan") => (...args: unknown[]) => {
    calls++;
    return (backend[name] as (...a: unknown[]) => never)(...args);
  };
  const wrapped: Backend = {
    label: backend.label,
    capabilities: backend.capabilities,
    configure: (settings) => backend.configure?.(settings),
    get: counted("get"),
    set: counted("set"),
    touch: counted("touch"),
    delete: counted("delete"),
    scan: counted("scan") as Backend["scan"],
    ping: () => backend.ping(),
    close: () => backend.close(),
    on: (event, listener) => backend.on(event, listener),
  };
  return { backend: wrapped, calls: () => calls };
}

export function backendContract(target: ContractTarget): void {
  const resolution = target.ttlResolutionMs ?? 1;
  // Short enough to keep the suite quick, long enough for a few round trips on a busy 2-core machine.
  const shortTtlMs = Math.max(1000, 3 * resolution);
  const cannot = target.cannot ?? {};

  describe(`backend contract: ${target.name}`, () => {
    const opened: SessionStore[] = [];
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((store) => store.close()));
    });

    async function open(options: Partial<SessionStoreOptions> = {}): Promise<SessionStore & { prefix: string }> {
      const backend = options.backend ?? (await target.backend());
      const prefix = options.prefix ?? uniquePrefix();
      const store = createSessionStore({ timeoutMs: 2000, ...options, backend, prefix });
      opened.push(store);
      return Object.assign(store, { prefix });
    }

    /** Reads the raw stored value, without sliding its TTL. */
    const raw = (store: SessionStore & { prefix: string }, id: string) => store.backend.get(store.prefix + id);

    describe("capabilities", () => {
      it("declares exactly the capabilities the target says it has", async () => {
        const store = await open();
        expect(store.backend.capabilities.scan).toBe(cannot.scan === undefined);
        expect(store.backend.capabilities.compareAndSet).toBe(cannot.compareAndSet === undefined);
        expect(store.backend.capabilities.userIndex).toBe(cannot.userIndex === undefined);
        expect(store.backend.capabilities.pubsub ?? false).toBe(cannot.pubsub === undefined);
        expect(store.backend.label).toMatch(/\S/);
      });

      it("answers ping", async () => {
        const store = await open();
        await expect(store.ping()).resolves.toBeUndefined();
      });
    });

    describe("pub/sub", () => {
      const backends: Backend[] = [];
      afterEach(async () => {
        await Promise.all(backends.splice(0).map((backend) => backend.close()));
      });
      const fresh = async () => {
        const backend = await target.backend();
        backend.configure?.({ timeoutMs: 2000 });
        backends.push(backend);
        return backend;
      };

      if (cannot.pubsub !== undefined) {
        it(`has no pub/sub: ${cannot.pubsub}`, async () => {
          const backend = await fresh();
          expect(backend.capabilities.pubsub ?? false).toBe(false);
          expect(backend.publish).toBeUndefined();
          expect(backend.subscribe).toBeUndefined();
        });
        return;
      }
      if (target.pubsubDenied !== undefined) {
        it(`publish fails with AUTH naming the channel permission: ${target.pubsubDenied}`, async () => {
          const backend = await fresh();
          const failure = await rejection(backend.publish!("cache:ct", "x"));
          expect(failure.code).toBe("AUTH");
          expect(failure.message).toMatch(/channel/);
        });
        return;
      }
      it("delivers a message published through one backend to the subscribers of another, until they unsubscribe", async () => {
        const subscriberSide = await fresh();
        const publisherSide = target.pubsubScope === "backend" ? subscriberSide : await fresh();
        expect(subscriberSide.capabilities.pubsub).toBe(true);
        const channel = `cache:${randomBytes(4).toString("hex")}`;
        const received: string[] = [];
        const unsubscribe = subscriberSide.subscribe!(channel, { message: (message) => received.push(message), reset: () => undefined });
        // Delivery starts once the subscription is active: publish until the first message arrives.
        await eventually("a published message arrives", async () => {
          await publisherSide.publish!(channel, "hello");
          return received.length > 0;
        });
        expect(new Set(received)).toEqual(new Set(["hello"]));
        unsubscribe();
        const before = received.length;
        await publisherSide.publish!(channel, "after unsubscribe");
        await publisherSide.publish!(`${channel}:other`, "another channel");
        await publisherSide.ping(); // one more round trip: a message that was coming has arrived by now
        await new Promise((resolve) => setImmediate(resolve));
        expect(received.slice(before)).toEqual([]);
      });
    });

    describe("round trip", () => {
      it("reads back what it stored, and forgets it after destroy", async () => {
        const store = await open();
        const data = { user: "ada", n: 42, nested: { list: [1, "two", null], ok: true }, text: "héllo ✓ \u{1F600}" };
        await store.set("round-trip", data);
        expect(await store.get("round-trip")).toEqual(data);
        await store.destroy("round-trip");
        expect(await store.get("round-trip")).toBeNull();
        expect(await raw(store, "round-trip")).toBeNull();
      });

      it("returns null for a session that was never stored, and destroy of it is harmless", async () => {
        const store = await open();
        expect(await store.get("never-stored")).toBeNull();
        await expect(store.destroy("never-stored")).resolves.toBe(false);
      });

      it("resolves true from destroy when there was a session to destroy", async () => {
        const store = await open();
        await store.set("to-destroy", { n: 1 });
        await expect(store.destroy("to-destroy")).resolves.toBe(true);
        expect(await store.get("to-destroy")).toBeNull();
      });

      it("stores a Date as its ISO-8601 string", async () => {
        const store = await open();
        const when = new Date("2024-05-06T07:08:09.010Z");
        await store.set("dated", { when } as unknown as Record<string, unknown>);
        expect(await store.get("dated")).toEqual({ when: "2024-05-06T07:08:09.010Z" });
      });

      it("keeps the creation time and reports the expiry in load()", async () => {
        const store = await open();
        const before = Date.now();
        await store.set("meta", { a: 1 }, { ttlMs: 60_000 });
        const loaded = await store.load("meta");
        expect(loaded?.createdAtMs).toBeGreaterThanOrEqual(before);
        expect(loaded?.expiresAtMs).toBeGreaterThan(Date.now());
        expect(loaded?.ttlMs).toBe(60_000);
      });

      it("overwrites a session on set", async () => {
        const store = await open();
        await store.set("overwrite", { v: 1 });
        await store.set("overwrite", { v: 2 });
        expect(await store.get("overwrite")).toEqual({ v: 2 });
      });
    });

    describe("TTL", () => {
      it("forgets a session once its TTL has passed", async () => {
        const store = await open();
        await store.set("expiring", { a: 1 }, { ttlMs: shortTtlMs });
        expect(await raw(store, "expiring")).not.toBeNull();
        await eventually("the session expired", async () => (await raw(store, "expiring")) === null);
        expect(await store.get("expiring")).toBeNull();
      });

      it("keeps a session alive when it is touched before its TTL ends", async () => {
        const store = await open();
        await store.set("control", { a: 1 }, { ttlMs: shortTtlMs });
        await store.set("touched", { a: 1 }, { ttlMs: shortTtlMs });
        // Touching every quarter TTL keeps "touched" alive while the untouched control expires.
        await eventually(
          "the untouched control expired",
          async () => {
            expect(await store.touch("touched")).toBe(true);
            return (await raw(store, "control")) === null;
          },
          15_000,
          shortTtlMs / 4,
        );
        expect(await raw(store, "touched")).not.toBeNull();
        expect(await store.get("touched")).toEqual({ a: 1 });
      });

      it("touch resolves false for a missing session and does not create it", async () => {
        const store = await open();
        expect(await store.touch("missing")).toBe(false);
        expect(await raw(store, "missing")).toBeNull();
      });

      it("slides the TTL on every read (get refreshes it)", async () => {
        const store = await open({ ttlMs: shortTtlMs });
        await store.set("control", { a: 1 });
        await store.set("read", { a: 1 });
        // Reading every quarter TTL keeps "read" alive while the unread control expires.
        await eventually(
          "the unread control expired",
          async () => {
            expect(await store.get("read")).toEqual({ a: 1 });
            return (await raw(store, "control")) === null;
          },
          15_000,
          shortTtlMs / 4,
        );
        expect(await store.get("read")).toEqual({ a: 1 });
      });

      it("with touchAfterMs, does not rewrite on a fresh read and still keeps a read session alive (lazy touch)", async () => {
        // A quarter of the TTL: a read rewrites once touchAfterMs has passed, and the session must be read
        // again before it expires. With half the TTL, memcached (whole seconds: an item can go up to 1 s
        // early) left a window of 0.5 s for the next read, which a loaded CI machine missed (3 Dec).
        const store = await open({ ttlMs: shortTtlMs, touchAfterMs: Math.floor(shortTtlMs / 4) });
        await store.set("lazy", { a: 1 });
        const first = await store.load("lazy");
        const second = await store.load("lazy");
        expect(second?.version).toBe(first?.version); // no write within touchAfterMs
        await store.set("control", { a: 1 });
        await eventually(
          "the unread control expired",
          async () => {
            expect(await store.get("lazy")).toEqual({ a: 1 });
            return (await raw(store, "control")) === null;
          },
          15_000,
          shortTtlMs / 8,
        );
        expect(await store.get("lazy")).toEqual({ a: 1 });
      });

      it("ends a session at maxLifetimeMs even while it is being used", async () => {
        const store = await open({ ttlMs: 60_000, maxLifetimeMs: shortTtlMs });
        // Connected first: the lifetime counts from the set's start, and a first command that also opens the
        // connections (TLS + AUTH to every Cluster master) could take most of it on a busy machine.
        await store.ping();
        await store.set("mortal", { a: 1 });
        expect(await store.get("mortal")).toEqual({ a: 1 });
        await eventually("the session reached its absolute lifetime", async () => (await store.get("mortal")) === null, 15_000, shortTtlMs / 4);
        expect(await store.get("mortal")).toBeNull();
      });
    });

    describe("listing: ids, length, clear", () => {
      if (cannot.scan !== undefined) {
        it(`rejects ids/length/clear with UNSUPPORTED (${cannot.scan})`, async () => {
          const store = await open();
          await store.set("a", { a: 1 });
          expect((await rejection(() => store.length())).code).toBe("UNSUPPORTED");
          expect((await rejection(() => store.clear())).code).toBe("UNSUPPORTED");
          expect((await rejection(async () => {
            for await (const _ of store.ids()) break;
          })).code).toBe("UNSUPPORTED");
          expect(await store.get("a")).toEqual({ a: 1 });
        });
        return;
      }

      it("lists, counts and clears only the sessions under its own prefix", async () => {
        const mine = await open();
        const theirs = await open();
        const ids = ["one", "two", "three:with:colons", "ünï"];
        for (const id of ids) await mine.set(id, { id });
        await theirs.set("other", { x: 1 });
        const outsider = uniquePrefix("outsider") + "raw";
        await mine.backend.set(outsider, "not a session", 60_000);

        const listed: string[] = [];
        for await (const id of mine.ids()) listed.push(id);
        expect(listed.sort()).toEqual([...ids].sort());
        expect(await mine.length()).toBe(ids.length);

        await mine.clear();
        expect(await mine.length()).toBe(0);
        expect(await theirs.get("other")).toEqual({ x: 1 });
        expect(await theirs.length()).toBe(1);
        expect(await mine.backend.get(outsider)).toBe("not a session");
        await mine.backend.delete([outsider]);
      });

      it("treats glob characters in the prefix literally", async () => {
        const tag = randomBytes(4).toString("hex");
        const globby = await open({ prefix: `sess:g${tag}[1]*?:` });
        // Unescaped, the pattern sess:g<tag>[1]*?:* would also match this store's keys.
        const lookalike = await open({ prefix: `sess:g${tag}1ab:` });
        await globby.set("a", { a: 1 });
        await lookalike.set("b", { b: 1 });
        expect(await globby.length()).toBe(1);
        await globby.clear();
        expect(await lookalike.get("b")).toEqual({ b: 1 });
      });

      it("counts many sessions across several scan steps", async () => {
        const store = await open();
        const count = 1500;
        for (let i = 0; i < count; i += 100) {
          await Promise.all(Array.from({ length: 100 }, (_, j) => store.set(`bulk-${i + j}`, { i: i + j })));
        }
        const seen = new Set<string>();
        for await (const id of store.ids()) seen.add(id);
        expect(seen.size).toBe(count);
        await store.clear();
        expect(await store.length()).toBe(0);
      });
    });

    describe("bad input", () => {
      const badIds: Array<[string, unknown]> = [
        ["an empty string", ""],
        ["257 characters", "x".repeat(257)],
        ["a newline", "a\nb"],
        ["a NUL", "a\u0000b"],
        ["DEL", "a\u007fb"],
        ["a number", 42],
        ["null", null],
        ["undefined", undefined],
      ];
      for (const [description, id] of badIds) {
        it(`rejects an id that is ${description} with INVALID_ID before anything reaches the backend`, async () => {
          const counted = counting(await target.backend());
          const store = await open({ backend: counted.backend });
          const bad = id as string;
          for (const operation of [() => store.get(bad), () => store.load(bad), () => store.set(bad, { a: 1 }), () => store.touch(bad), () => store.destroy(bad), () => store.save(bad, { a: 1 }, { previous: null })]) {
            const failure = await rejection(operation);
            expect(failure.code).toBe("INVALID_ID");
            if (typeof id === "string" && id.length > 0) expect(failure.message).not.toContain(id);
          }
          expect(counted.calls()).toBe(0);
        });
      }

      it("accepts a 256-character id with non-ASCII characters", async () => {
        const store = await open();
        const id = "é".repeat(128) + "x".repeat(128);
        await store.set(id, { ok: true });
        expect(await store.get(id)).toEqual({ ok: true });
      });

      it("refuses a session over maxBytes with TOO_LARGE and writes nothing", async () => {
        const store = await open({ maxBytes: 2000 });
        expect((await rejection(store.set("big", { blob: "x".repeat(5000) }))).code).toBe("TOO_LARGE");
        expect(await raw(store, "big")).toBeNull();
        await store.set("small", { v: "kept" });
        expect((await rejection(store.set("small", { v: "y".repeat(5000) }))).code).toBe("TOO_LARGE");
        expect(await store.get("small")).toEqual({ v: "kept" });
      });

      it("answers null and emits 'corrupt' for a stored value it cannot decode", async () => {
        const store = await open();
        const corrupt: unknown[] = [];
        store.on("corrupt", (error) => corrupt.push(error));
        const garbage = ["garbage", "sb1:short:{}", "sb1:AAAAAAAAAAAA:{not json", 'sb1:AAAAAAAAAAAA:{"d":[],"c":1,"e":2,"t":3}', "sb1:AAAAAAAAAAAA:null"];
        for (const [i, value] of garbage.entries()) {
          await store.backend.set(`${store.prefix}bad-${i}`, value, 60_000);
          expect(await store.get(`bad-${i}`)).toBeNull();
        }
        expect(corrupt).toHaveLength(garbage.length);
        expect(corrupt.every((error) => isSessionStoreError(error) && error.code === "CORRUPT")).toBe(true);
      });

      it("saves a new session over a stored value it cannot decode, instead of retrying until the deadline", async () => {
        // E.g. a record sealed with an encryption key that was dropped too early (docs/operations.md).
        const store = await open();
        await store.backend.set(`${store.prefix}unreadable`, "garbage", 60_000);
        expect(await store.load("unreadable")).toBeNull();
        expect((await store.save("unreadable", { v: 1 }, { previous: null })).status).toBe("written");
        expect(await store.get("unreadable")).toEqual({ v: 1 });
      });

      it("drops __proto__ and constructor.prototype keys from stored data", async () => {
        const store = await open();
        const body = '{"d":{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":1}},"safe":1},"c":1,"e":9999999999999,"t":60000}';
        await store.backend.set(`${store.prefix}proto`, `sb1:AAAAAAAAAAAA:${body}`, 60_000);
        const data = await store.get("proto");
        expect(data?.safe).toBe(1);
        expect((data as { polluted?: unknown } | null)?.polluted).toBeUndefined();
        expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
        expect(Object.getPrototypeOf(data)).toBe(Object.prototype);
      });
    });

    describe("conditional writes and concurrency", () => {
      it("does not write back a session destroyed while a request held it (status gone)", async () => {
        const store = await open();
        await store.set("logout", { user: "ada" });
        const held = await store.load("logout");
        await store.destroy("logout");
        const outcome = await store.save("logout", { user: "ada", page: 2 }, { previous: held });
        expect(outcome.status).toBe("gone");
        expect(await raw(store, "logout")).toBeNull();
      });

      it("creates a new session with save(previous: null) and reports unchanged saves", async () => {
        const store = await open();
        const created = await store.save("fresh", { a: 1 }, { previous: null });
        expect(created.status).toBe("written");
        const loaded = await store.load("fresh");
        const again = await store.save("fresh", { a: 1 }, { previous: loaded });
        expect(again.status).toBe("unchanged");
      });

      it("saves a change made in place to the loaded data's nested objects (compared with the stored session, not the mutated objects)", async () => {
        const store = await open();
        await store.set("in-place", { user: { name: "Ada", roles: ["reader"] }, views: 1 });
        const loaded = (await store.load("in-place"))!;
        (loaded.data.user as { name: string }).name = "Grace";
        (loaded.data.user as { roles: string[] }).roles.push("editor");
        const outcome = await store.save("in-place", loaded.data, { previous: loaded });
        expect(outcome.status).toBe("written");
        expect(await store.get("in-place")).toEqual({ user: { name: "Grace", roles: ["reader", "editor"] }, views: 1 });
        // After that write, the written session is the new reference: a further in-place change is seen too.
        const written = (outcome as { session: Awaited<ReturnType<typeof store.load>> }).session!;
        (written.data.user as { name: string }).name = "Hedy";
        expect((await store.save("in-place", written.data, { previous: written })).status).toBe("written");
        expect(await store.get("in-place")).toEqual({ user: { name: "Hedy", roles: ["reader", "editor"] }, views: 1 });
      });

      it("reports an unchanged save as unchanged even when the data's keys come in another order", async () => {
        const store = await open();
        await store.set("reordered", { a: 1, b: { c: 2 } });
        const loaded = (await store.load("reordered"))!;
        expect((await store.save("reordered", { b: { c: 2 }, a: 1 }, { previous: loaded })).status).toBe("unchanged");
      });

      if (cannot.compareAndSet === undefined) {
        it("keeps both of two concurrent saves that change different fields", async () => {
          const store = await open();
          await store.set("merge", { a: 0, b: 0, keep: "x" });
          const [first, second] = await Promise.all([store.load("merge"), store.load("merge")]);
          const outcomes = await Promise.all([store.save("merge", { ...first!.data, a: 1 }, { previous: first }), store.save("merge", { ...second!.data, b: 1 }, { previous: second })]);
          expect(outcomes.map((o) => o.status)).toEqual(["written", "written"]);
          expect(await store.get("merge")).toEqual({ a: 1, b: 1, keep: "x" });
        });

        it("compare-and-sets on the version prefix at the backend level", async () => {
          const store = await open();
          const key = `${store.prefix}cas`;
          expect(await store.backend.set(key, "sb1:AAAAAAAAAAAA:{}", 60_000, { kind: "version", prefix: "sb1:AAAAAAAAAAAA:" })).toBe("missing");
          expect(await store.backend.set(key, "sb1:AAAAAAAAAAAA:{}", 60_000, { kind: "absent" })).toBe("ok");
          expect(await store.backend.set(key, "sb1:BBBBBBBBBBBB:{}", 60_000, { kind: "version", prefix: "sb1:CCCCCCCCCCCC:" })).toBe("mismatch");
          expect(await store.backend.get(key)).toBe("sb1:AAAAAAAAAAAA:{}");
          expect(await store.backend.set(key, "sb1:BBBBBBBBBBBB:{}", 60_000, { kind: "version", prefix: "sb1:AAAAAAAAAAAA:" })).toBe("ok");
          expect(await store.backend.get(key)).toBe("sb1:BBBBBBBBBBBB:{}");
          await store.backend.delete([key]);
        });
      } else {
        it(`without compare-and-set (${cannot.compareAndSet}), two concurrent saves both succeed and the session keeps at least one change`, async () => {
          const store = await open();
          await store.set("merge", { a: 0, b: 0 });
          const [first, second] = await Promise.all([store.load("merge"), store.load("merge")]);
          const outcomes = await Promise.all([store.save("merge", { ...first!.data, a: 1 }, { previous: first }), store.save("merge", { ...second!.data, b: 1 }, { previous: second })]);
          expect(outcomes.map((o) => o.status)).toEqual(["written", "written"]);
          const after = (await store.get("merge")) as { a: number; b: number };
          expect(after.a + after.b).toBeGreaterThanOrEqual(1);
        });
      }

      it("honours the absent and exists conditions at the backend level", async () => {
        const store = await open();
        const key = `${store.prefix}cond`;
        expect(await store.backend.set(key, "v1", 60_000, { kind: "exists" })).toBe("missing");
        expect(await store.backend.get(key)).toBeNull();
        expect(await store.backend.set(key, "v1", 60_000, { kind: "absent" })).toBe("ok");
        expect(await store.backend.set(key, "v2", 60_000, { kind: "absent" })).toBe("exists");
        expect(await store.backend.set(key, "v3", 60_000, { kind: "exists" })).toBe("ok");
        expect(await store.backend.get(key)).toBe("v3");
        expect(await store.backend.delete([key, `${key}-none`])).toBe(1);
      });

      it("stays consistent under many concurrent operations on one id", async () => {
        const store = await open();
        const writes = Array.from({ length: 30 }, (_, i) => ({ n: i }));
        const results = await Promise.allSettled([
          ...writes.map((data) => store.set("busy", data)),
          ...writes.map(() => store.get("busy")),
          ...writes.map(() => store.touch("busy")),
        ]);
        expect(results.filter((r) => r.status === "rejected")).toEqual([]);
        const final = await store.get("busy");
        expect(writes).toContainEqual(final);
        await Promise.all([store.destroy("busy"), store.set("busy", { n: 99 }), store.destroy("busy")]);
        const after = await store.get("busy");
        expect(after === null || (after as { n: number }).n === 99).toBe(true);
      });

      it("merges concurrent saves from many requests without losing any field (or reports CONFLICT)", async () => {
        const store = await open();
        await store.set("fanout", {});
        const loads = await Promise.all(Array.from({ length: 4 }, () => store.load("fanout")));
        const outcomes = await Promise.allSettled(loads.map((previous, i) => store.save("fanout", { [`f${i}`]: i }, { previous })));
        const data = (await store.get("fanout")) as Record<string, number>;
        for (const [i, outcome] of outcomes.entries()) {
          if (outcome.status === "rejected") expect((outcome.reason as { code?: string }).code).toBe("CONFLICT");
          else if (cannot.compareAndSet === undefined) expect(data[`f${i}`]).toBe(i);
        }
      });
    });

    describe("per-user index", () => {
      if (cannot.userIndex !== undefined) {
        it(`has no per-user index (${cannot.userIndex})`, async () => {
          const store = await open();
          expect(store.backend.capabilities.userIndex).toBe(false);
        });
        return;
      }
      it("adds, lists (dropping expired members) and removes members", async () => {
        const store = await open();
        const backend = store.backend;
        const index = `${store.prefix}user:ada`;
        const now = Date.now();
        await backend.indexAdd!(index, [{ member: "s1", expiresAtMs: now + 60_000 }, { member: "s2", expiresAtMs: now - 1 }, { member: "s3", expiresAtMs: now + 60_000 }], 60_000);
        const listed = await backend.indexList!(index, Date.now());
        expect(listed.map((m) => m.member).sort()).toEqual(["s1", "s3"]);
        await backend.indexRemove!(index, ["s1"]);
        expect((await backend.indexList!(index, Date.now())).map((m) => m.member)).toEqual(["s3"]);
        await backend.indexRemove!(index, ["s3"]);
      });
    });

    describe("closing", () => {
      it("rejects every operation with CLOSED after close()", async () => {
        const store = await open();
        await store.set("a", { a: 1 });
        await store.close();
        for (const operation of [() => store.get("a"), () => store.set("a", { a: 2 }), () => store.touch("a"), () => store.destroy("a"), () => store.ping()]) {
          expect((await rejection(operation)).code).toBe("CLOSED");
        }
        await expect(store.close()).resolves.toBeUndefined();
      });
    });
  });
}
