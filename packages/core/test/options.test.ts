import { describe, expect, it } from "vitest";
import { createSessionStore, memoryBackend, SessionStoreError, type SessionStoreOptions } from "../src/index.js";

/** Store options are validated once, at construction, with a CONFIG error that names the option. */
function configFailure(options: unknown): SessionStoreError {
  try {
    createSessionStore(options as SessionStoreOptions);
  } catch (error) {
    expect(error).toBeInstanceOf(SessionStoreError);
    expect((error as SessionStoreError).code).toBe("CONFIG");
    return error as SessionStoreError;
  }
  throw new Error("expected a CONFIG error");
}

const backend = () => memoryBackend();

describe("store options", () => {
  it("uses the documented defaults", async () => {
    const store = createSessionStore({ backend: backend() });
    expect(store.options).toMatchObject({ prefix: "sess:", ttlMs: 86_400_000, timeoutMs: 1000, maxBytes: 1_000_000, touchAfterMs: 0, maxLifetimeMs: undefined });
    await store.close();
  });

  it("rounds a fractional ttlMs up to a whole millisecond (as per call)", async () => {
    const store = createSessionStore({ backend: backend(), ttlMs: 90_061.5 });
    expect(store.options.ttlMs).toBe(90_062);
    await store.close();
  });

  it.each([
    ["ttlMs", 0],
    ["ttlMs", -5],
    ["ttlMs", 1e20],
    ["ttlMs", 400 * 86_400_000 + 1],
    ["ttlMs", "1000"],
    ["ttlMs", Number.POSITIVE_INFINITY],
    ["timeoutMs", 0],
    ["timeoutMs", "fast"],
    ["maxBytes", -1],
    ["maxLifetimeMs", 0],
    ["touchAfterMs", -1],
  ])("rejects %s = %j naming the option and its unit", (option, value) => {
    const error = configFailure({ backend: backend(), [option]: value });
    expect(error.message).toContain(`"${option}"`);
    expect(error.message).toMatch(/milliseconds|whole number/);
  });

  it("rejects touchAfterMs that is not smaller than ttlMs", () => {
    expect(configFailure({ backend: backend(), ttlMs: 1000, touchAfterMs: 1000 }).message).toContain('"touchAfterMs"');
  });

  it("rejects a prefix with whitespace or control characters", () => {
    expect(configFailure({ backend: backend(), prefix: "my sess:" }).message).toContain('"prefix"');
    expect(configFailure({ backend: backend(), prefix: "a\u0000" }).message).toContain('"prefix"');
  });

  it("points users who write ttl (seconds in other stores) to ttlMs", () => {
    const error = configFailure({ backend: backend(), ttl: 3600 });
    expect(error.message).toContain('"ttl"');
    expect(error.message).toContain("ttlMs");
  });

  it("rejects an unknown option by name", () => {
    expect(configFailure({ backend: backend(), tmeoutMs: 5 }).message).toContain('"tmeoutMs"');
  });

  it("needs exactly one of backend and url", () => {
    expect(configFailure({}).message).toContain('"backend"');
    expect(configFailure({ backend: backend(), url: "memory://" }).message).toContain('"backend"');
  });

  it("rejects a serializer without stringify and parse", () => {
    expect(configFailure({ backend: backend(), serializer: { stringify: JSON.stringify } }).message).toContain('"serializer"');
  });

  it("rejects an unknown URL scheme without echoing the URL (it may hold a password)", () => {
    const error = configFailure({ url: "postgres://user:pa55word@db:5432" });
    expect(error.message).toContain('"url"');
    expect(error.message).not.toContain("pa55word");
  });

  it("accepts memory:// as a URL", async () => {
    const store = createSessionStore({ url: "memory://" });
    await store.set("a", { b: 1 });
    expect(await store.get("a")).toEqual({ b: 1 });
    await store.close();
  });
});
