import { describe, expect, it } from "vitest";
import { MAX_DEPTH, tooDeep } from "../src/depth.js";

/** `levels` nested containers, alternating objects and arrays when `mixed`, the outermost counting as 1. */
function nest(levels: number, kind: "object" | "array" | "mixed"): unknown {
  let value: unknown = kind === "array" ? [] : {};
  for (let level = 1; level < levels; level++) {
    const asArray = kind === "array" || (kind === "mixed" && level % 2 === 1);
    value = asArray ? [1, "x", value] : { a: 1, next: value };
  }
  return value;
}

describe("tooDeep", () => {
  it.each(["object", "array", "mixed"] as const)("allows %s nesting up to the limit and refuses one level more", (kind) => {
    expect(tooDeep(nest(MAX_DEPTH, kind))).toBe(false);
    expect(tooDeep(nest(MAX_DEPTH + 1, kind))).toBe(true);
    expect(tooDeep(nest(50_000, kind))).toBe(true); // far deeper than the call stack: stops at the limit
  });

  it("finds the deep branch among shallow ones, in arrays too", () => {
    expect(tooDeep({ a: [1, 2, { b: [] }], c: { d: [[nest(MAX_DEPTH - 3, "array")]] } })).toBe(true);
    expect(tooDeep({ a: [1, 2, { b: [] }], c: { d: [[nest(MAX_DEPTH - 4, "array")]] } })).toBe(false);
  });

  it("counts a cycle as too deep instead of looping", () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = [cyclic];
    expect(tooDeep(cyclic)).toBe(true);
  });

  it("says no for values that are not containers", () => {
    for (const value of [null, undefined, 1, "x", true]) expect(tooDeep(value)).toBe(false);
  });
});
