import { describe, expect, it } from "vitest";
import { createSessionStore, memcachedBackend, redisBackend, SessionStoreError } from "../src/index.js";

/**
 * A secret or credential option present with the value undefined (an unset environment variable) is
 * refused at construction naming the option, the same way everywhere: never "off" in silence.
 */
function refusal(construct: () => unknown): SessionStoreError {
  try {
    construct();
  } catch (error) {
    expect(error).toBeInstanceOf(SessionStoreError);
    expect((error as SessionStoreError).code).toBe("CONFIG");
    return error as SessionStoreError;
  }
  throw new Error("expected a CONFIG error");
}

const unset = process.env.SESSIONBRIDGE_TEST_VARIABLE_THAT_IS_NEVER_SET;

describe("secret options present but undefined", () => {
  it.each([
    ["keySecret", () => createSessionStore({ url: "memory://", keySecret: unset })],
    ["encryptionKeys", () => createSessionStore({ url: "memory://", encryptionKeys: undefined })],
    ["password", () => redisBackend({ url: "redis://127.0.0.1:1", password: unset })],
    ["username", () => redisBackend({ url: "redis://127.0.0.1:1", username: unset, password: "pw" })],
    ["sentinelPassword", () => redisBackend({ sentinels: [{ host: "127.0.0.1", port: 1 }], name: "mymaster", sentinelPassword: unset })],
    ["sentinelUsername", () => redisBackend({ sentinels: [{ host: "127.0.0.1", port: 1 }], name: "mymaster", sentinelUsername: unset })],
    ["password", () => memcachedBackend({ servers: ["127.0.0.1:1"], username: "app", password: unset })],
    ["username", () => memcachedBackend({ url: "memcached://app:pw@127.0.0.1:1", username: unset })],
  ])("refuses %s: undefined, naming it and saying what to do", (option, construct) => {
    const error = refusal(construct);
    expect(error.message).toContain(`"${option}"`);
    expect(error.message).toMatch(/undefined.*leave the option out/);
  });

  it("refuses the docs/security.md line with SESSION_KEY_SECRET unset", () => {
    const environment = { SESSION_STORE_URL: "memory://" } as Record<string, string | undefined>;
    expect(refusal(() => createSessionStore({ url: environment.SESSION_STORE_URL, keySecret: environment.SESSION_KEY_SECRET })).message).toContain('"keySecret"');
    expect(refusal(() => createSessionStore({ url: "memory://", encryptionKeys: [{ id: "2025-06", key: environment.SESSION_KEY_2025_06 as string }] })).message).toContain('"encryptionKeys[0].key"');
    expect(refusal(() => createSessionStore({ url: "memory://", keySecret: [environment.NEW_SECRET as string] })).message).toContain('"keySecret[0]"');
  });

  it("still runs without them when the options are left out", async () => {
    const store = createSessionStore({ url: "memory://" });
    expect(store.options.hashedKeys).toBe(false);
    await store.close();
  });
});
