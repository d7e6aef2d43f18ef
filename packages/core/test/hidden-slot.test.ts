import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { HiddenSlot } from "../src/hidden-slot.js";

describe("HiddenSlot", () => {
  it("keeps a value on the object that keys, for…in, spreads, JSON and inspect do not see", () => {
    const slot = new HiddenSlot<string>("test.secret");
    const holder = { a: 1 };
    slot.set(holder, "the-body");
    expect(slot.get(holder)).toBe("the-body");
    expect(Object.keys(holder)).toEqual(["a"]);
    const seen: string[] = [];
    for (const key in holder) seen.push(key);
    expect(seen).toEqual(["a"]);
    expect(JSON.stringify(holder)).toBe('{"a":1}');
    expect(inspect(holder)).not.toContain("the-body");
    expect(slot.get({ ...holder })).toBeUndefined();
    expect(slot.get(structuredClone(holder))).toBeUndefined();
  });

  it("replaces and clears a value, and two slots never see each other's", () => {
    const one = new HiddenSlot<number>("test.one");
    const other = new HiddenSlot<number>("test.one");
    const holder = {};
    one.set(holder, 1);
    one.set(holder, 2);
    expect(one.get(holder)).toBe(2);
    expect(other.get(holder)).toBeUndefined();
    one.clear(holder);
    expect(one.get(holder)).toBeUndefined();
  });

  it("holds values for frozen, sealed and non-extensible objects too", () => {
    const slot = new HiddenSlot<string>("test.frozen");
    for (const holder of [Object.freeze({ a: 1 }), Object.seal({ b: 2 }), Object.preventExtensions({ c: 3 })]) {
      slot.set(holder, "kept");
      expect(slot.get(holder)).toBe("kept");
      slot.clear(holder);
      expect(slot.get(holder)).toBeUndefined();
    }
  });
});
