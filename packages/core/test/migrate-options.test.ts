import { describe, expect, it } from "vitest";
import { createSessionStore, memoryBackend } from "../src/index.js";

// Option checks of `migrateFrom` (no server needed: they fail at construction). Reading and moving
// sessions is tested against real servers and the real incumbent packages in packages/testing.
describe("the migrateFrom option", () => {
  const make = (migrateFrom: unknown, options: Record<string, unknown> = {}) => () => createSessionStore({ backend: memoryBackend(), prefix: "sb:", ...options, migrateFrom: migrateFrom as never });

  it("accepts each incumbent format and another store, and exposes the source", () => {
    for (const format of ["connect-redis", "koa-redis", "connect-memjs", "connect-memcached"]) expect(make({ format })().migrateSource?.label).toContain(format);
    const old = createSessionStore({ backend: memoryBackend() });
    expect(make({ store: old, keepSource: true })().migrateSource?.keepSource).toBe(true);
    expect(createSessionStore({ backend: memoryBackend() }).migrateSource).toBeUndefined();
  });

  it("refuses what it cannot use, naming the field", () => {
    expect(make("connect-redis")).toThrow(/option "migrateFrom" must be/);
    expect(make({ format: "connect-mongo" })).toThrow(/"migrateFrom\.format"/);
    expect(make({ format: "connect-redis", ttl: 60 })).toThrow(/"migrateFrom\.ttl"/);
    expect(make({ format: "connect-redis", keepSource: 1 })).toThrow(/"migrateFrom\.keepSource"/);
    expect(make({ format: "connect-redis", serializer: JSON.stringify })).toThrow(/"migrateFrom\.serializer"/);
    expect(make({ format: "connect-redis", prefix: "has space" })).toThrow(/"migrateFrom\.prefix"/);
    expect(make({ format: "connect-redis", url: "memory://", backend: memoryBackend() })).toThrow(/"migrateFrom\.backend"/);
    expect(make({ store: {} })).toThrow(/"migrateFrom\.store"/);
    expect(make({ format: "connect-redis", servers: ["127.0.0.1:11211"] })).toThrow(/"migrateFrom\.servers" must be used with format "connect-memjs"/);
    expect(make({ format: "connect-memjs", servers: [] })).toThrow(/"migrateFrom\.servers"/);
    expect(make({ format: "connect-memjs", servers: ["127.0.0.1:11211"], url: "memory://" })).toThrow(/not "url" and "servers"/);
    expect(make({ store: createSessionStore({ backend: memoryBackend() }), prefix: "x:" })).toThrow(/"migrateFrom\.prefix"/);
  });

  it("keeps the incumbent's keys and ours apart on one backend", () => {
    // connect-redis's default prefix is the store's default too: the store needs a prefix of its own.
    expect(make({ format: "connect-redis" }, { prefix: "sess:" })).toThrow(/give the store a new prefix/);
    expect(make({ format: "connect-redis", prefix: "sb:old:" })).toThrow(/"migrateFrom\.prefix"/);
    // On another backend the prefixes may be equal.
    expect(make({ format: "connect-redis", backend: memoryBackend() }, { prefix: "sess:" })).not.toThrow();
  });

  it("rejects migrate(id) without migrateFrom", async () => {
    await expect(createSessionStore({ backend: memoryBackend() }).migrate("x")).rejects.toMatchObject({ code: "CONFIG" });
  });
});
