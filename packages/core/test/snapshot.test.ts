import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { createSessionStore } from "../src/store.js";
import { bodyOf, rememberBody } from "../src/snapshot.js";

describe("stored bodies of loaded sessions", () => {
  it("keeps a loaded session's body where keys, spreads, JSON, structuredClone and inspect do not see it", async () => {
    const store = createSessionStore({ url: "memory://" });
    await store.set("a", { secret: "s3" });
    const loaded = (await store.load("a"))!;
    const body = bodyOf(loaded);
    expect(body).toContain('"secret":"s3"');
    expect(Object.values(loaded)).not.toContain(body);
    expect(Object.getOwnPropertySymbols(loaded)).toEqual([]);
    expect(JSON.stringify(loaded)).not.toContain('"d":');
    expect(inspect(loaded)).not.toContain('"d":');
    // A copy is a session the store has no body for.
    expect(bodyOf({ ...loaded })).toBeUndefined();
    expect(bodyOf(structuredClone(loaded))).toBeUndefined();
    expect(structuredClone(loaded)).toEqual({ ...loaded });
    await store.close();
  });

  it("holds a body for an object the store did not make, without showing it", () => {
    const other = { a: 1 };
    rememberBody(other, "the-body");
    expect(bodyOf(other)).toBe("the-body");
    expect(Object.keys(other)).toEqual(["a"]);
    expect(JSON.stringify(other)).toBe('{"a":1}');
  });
});
