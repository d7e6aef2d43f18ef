import { describe, expect, it } from "vitest";
import { memoryBackend } from "@sessionbridge/core";
import { createCache } from "../src/index.js";

describe("cache options are checked at construction, naming the option", () => {
  const backend = memoryBackend();
  it.each<readonly [RegExp, Record<string, unknown>]>(([
    [{ backend, ttl: 60 }, /"ttl".*use "ttlMs"/],
    [{ backend, ttlMs: 0 }, /"ttlMs" must be a whole number of milliseconds/],
    [{ backend, jitter: 0.9 }, /"jitter" must be a fraction between 0 and 0.5/],
    [{ backend, staleMs: -1 }, /"staleMs"/],
    [{ backend, versionOf: 3 }, /"versionOf" must be a function/],
    [{ backend, prefix: "has space" }, /"prefix"/],
    [{}, /"backend" must be a backend/],
    [{ backend, url: "memory://" }, /"backend" must be given alone/],
    [{ backend, encryptionKeys: [{ id: "k1", key: "too short" }] }, /"encryptionKeys\[0\]\.key" must be 32 random bytes/],
  ] as Array<[Record<string, unknown>, RegExp]>).map(([options, message]) => [message, options] as const))("refuses with %s", (message, options) => {
    expect(() => createCache(options as never)).toThrow(message);
  });

  it("keys, tags and per-call durations too", async () => {
    const cache = createCache({ backend });
    expect(() => cache.lookup("", async () => 1)).toThrow(/"key"/);
    expect(() => cache.lookup("~t.products", async () => 1)).toThrow(/not starting with "~"/);
    expect(() => cache.lookup("a", async () => 1, { tags: ["has space"] })).toThrow(/"tags"/);
    expect(() => cache.lookup("a", async () => 1, { ttlMs: 1.5 })).toThrow(/"ttlMs"/);
    await expect(cache.set("a", 1, { version: -1 })).rejects.toThrow(/"version"/);
    await cache.close();
  });

  it("an encryption key never appears in the error", () => {
    const secret = "not a valid key, but secret-looking material!";
    let message = "";
    try {
      createCache({ backend, encryptionKeys: [{ id: "k1", key: secret }] });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain("encryptionKeys");
    expect(message).not.toContain(secret);
  });
});
