import { randomBytes } from "node:crypto";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { createSessionStore, isSessionStoreError, memoryBackend, type SessionStore } from "@sessionbridge/core";
import { call, start } from "./security.apps.js";

/**
 * Property tests over everything that arrives from outside: stored bytes (anyone with write access to
 * the cache), session ids and cookies (any client), session data (the application). Nothing may throw
 * anything but a SessionStoreError, pollute a prototype, or hold unbounded memory.
 */

const encryptionKeys = [{ id: "k", key: randomBytes(32) }];
const stores: SessionStore[] = [];
const open = (options: Parameters<typeof createSessionStore>[0] extends infer O ? Omit<O & object, "backend"> : never = {}) => {
  const store = createSessionStore({ ...options, backend: memoryBackend() });
  stores.push(store);
  return store;
};
afterAll(async () => {
  await Promise.all(stores.map((store) => store.close()));
});

function assertPrototypesClean(): void {
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect(Object.prototype).not.toHaveProperty("polluted");
  expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(PROTO_NAMES);
}
const PROTO_NAMES = Object.getOwnPropertyNames(Object.prototype).sort();

// Stored text that looks like our envelope often enough to get past the first checks.
const envelope = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.string({ unit: "binary", maxLength: 200 }),
  fc.tuple(fc.string({ minLength: 12, maxLength: 12 }), fc.string({ maxLength: 200 })).map(([version, body]) => `sb1:${version}:${body}`),
  fc.tuple(fc.base64String({ minLength: 12, maxLength: 12 }), fc.jsonValue()).map(([version, body]) => `sb1:${version.replace(/[+/=]/g, "a")}:${JSON.stringify(body)}`),
  fc.tuple(fc.jsonValue(), fc.jsonValue(), fc.constantFrom("__proto__", "constructor", "prototype", "d", "c", "e", "t", "u", "m", "i")).map(
    ([value, other, key]) => `sb1:AAAAAAAAAAAA:{"d":{"${key}":${JSON.stringify(value)},"__proto__":{"polluted":1}},"c":1,"e":${Date.now() + 60_000},"t":60000,"${key}":${JSON.stringify(other)}}`,
  ),
  fc.string({ maxLength: 200 }).map((tail) => `sb1:AAAAAAAAAAAA:e1.k.${tail}`),
);

describe("stored bytes", () => {
  it("decodes any stored text to a session or to 'no session', never throwing or polluting", async () => {
    const plain = open();
    const sealed = open({ encryptionKeys });
    await fc.assert(
      fc.asyncProperty(envelope, async (text) => {
        for (const store of [plain, sealed]) {
          await store.backend.set(store.options.prefix + "fuzz", text, 60_000);
          const data = await store.get("fuzz");
          if (data !== null) {
            expect(Object.getPrototypeOf(data)).toBe(Object.prototype);
            expect(Object.hasOwn(data, "__proto__")).toBe(false);
          }
        }
        assertPrototypesClean();
      }),
      { numRuns: 400 },
    );
  });

  it("refuses a stored value larger than maxBytes without parsing it", async () => {
    const store = open({ maxBytes: 10_000 });
    const corrupt: unknown[] = [];
    store.on("corrupt", (error) => corrupt.push(error));
    const huge = `sb1:AAAAAAAAAAAA:{"d":{"x":"${"a".repeat(20_000)}"},"c":1,"e":${Date.now() + 60_000},"t":60000}`;
    await store.backend.set(store.options.prefix + "huge", huge, 60_000);
    expect(await store.get("huge")).toBeNull();
    expect(corrupt).toHaveLength(1);
  });

  it("reads deeply nested stored data without overflowing the stack or polluting", async () => {
    const store = open({ maxBytes: 5_000_000 });
    const depth = 200_000;
    const nested = `${"[".repeat(depth)}{"__proto__":{"polluted":1}}${"]".repeat(depth)}`;
    await store.backend.set(store.options.prefix + "deep", `sb1:AAAAAAAAAAAA:{"d":{"x":${nested}},"c":1,"e":${Date.now() + 60_000},"t":60000}`, 60_000);
    const data = await store.get("deep"); // must not throw: null or the (bounded by maxBytes) data
    expect(data === null || Object.getPrototypeOf(data) === Object.prototype).toBe(true);
    assertPrototypesClean();
  });
});

describe("session data", () => {
  const key = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom("__proto__", "constructor", "prototype", "toString", "hasOwnProperty"));
  const data = fc.dictionary(key, fc.jsonValue({ maxDepth: 3 }), { maxKeys: 8 });

  it("round-trips any JSON object (without own __proto__ keys, which are dropped on read)", async () => {
    const store = open({ encryptionKeys });
    await fc.assert(
      fc.asyncProperty(data, async (value) => {
        await store.set("rt", value);
        const back = await store.get("rt");
        const expected = JSON.parse(JSON.stringify(value), (k, v) => (k === "__proto__" ? undefined : v));
        expect(back).toEqual(expected);
        assertPrototypesClean();
      }),
      { numRuns: 300 },
    );
  });

  it("merges concurrent saves of any fields (including __proto__ and constructor) without polluting", async () => {
    const store = open();
    await fc.assert(
      fc.asyncProperty(data, data, data, async (base, mine, theirs) => {
        const clean = (d: Record<string, unknown>) => JSON.parse(JSON.stringify(d)) as Record<string, unknown>;
        await store.set("merge", clean(base));
        const loaded = await store.load("merge");
        const other = await store.load("merge");
        await store.save("merge", clean({ ...loaded!.data, ...theirs }), { previous: other });
        const outcome = await store.save("merge", clean({ ...loaded!.data, ...mine }), { previous: loaded });
        expect(["written", "unchanged"]).toContain(outcome.status);
        const merged = await store.get("merge");
        expect(Object.getPrototypeOf(merged)).toBe(Object.prototype);
        assertPrototypesClean();
      }),
      { numRuns: 200 },
    );
  });
});

describe("session ids", () => {
  it("accepts or refuses any id with INVALID_ID, never echoing it", async () => {
    const store = open({ keySecret: randomBytes(32) });
    const id = fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: "binary", maxLength: 300 }), fc.constant("~u.x"), fc.constant(""));
    await fc.assert(
      fc.asyncProperty(id, async (candidate) => {
        for (const operation of [() => store.get(candidate), () => store.set(candidate, { a: 1 }), () => store.touch(candidate), () => store.destroy(candidate)]) {
          try {
            await operation();
          } catch (error) {
            expect(isSessionStoreError(error) && error.code).toBe("INVALID_ID");
            if (candidate.length >= 4) expect((error as Error).message).not.toContain(candidate);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe("cookies", () => {
  it.each(["express", "fastify", "koa"] as const)("answers any Cookie header through %s without a crash or a 500", async (framework) => {
    const app = await start(framework, open({ keySecret: randomBytes(32), encryptionKeys }));
    const signed = fc.tuple(fc.string({ maxLength: 80 }), fc.string({ maxLength: 60 })).map(([id, sig]) => `sid=s%3A${encodeURIComponent(id)}.${encodeURIComponent(sig)}`);
    const raw = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 200 });
    try {
      await fc.assert(
        fc.asyncProperty(fc.oneof(signed, raw, raw.map((v) => `sid=${v}`)), async (cookie) => {
          const response = await call(app, "GET", "/me", cookie);
          expect(response.status).toBe(200);
          expect(response.body).toEqual({});
        }),
        { numRuns: 150 },
      );
    } finally {
      await app.close();
    }
  });
});
