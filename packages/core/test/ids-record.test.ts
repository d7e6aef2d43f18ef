import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { jsonSerializer } from "../src/codec.js";
import { assertValidId } from "../src/ids.js";
import { dataJson, decodeRecord, encodeBody, encodeJsonBody, encodeRecord, mayBeReordered, newVersion, peekVersion, sameJsonData, versionPrefix, type SessionRecord } from "../src/record.js";
import { SessionStoreError } from "../src/errors.js";
import { escapeGlob } from "../src/backends/redis/commands.js";

describe("session ids", () => {
  it.each([
    ["a 32-byte base64url id", "h3Kq0Zx-_4PZ1c9wVwYz3Y8y1Jx6pXbQ8lHcM0yWk2A"],
    ["256 characters", "a".repeat(256)],
    ["non-ASCII", "sessión-ü-✓"],
    ["spaces and punctuation", "s:abc.def ghi"],
  ])("accepts %s", (_, id) => {
    expect(() => assertValidId(id)).not.toThrow();
  });

  it.each([
    ["empty", ""],
    ["257 characters", "a".repeat(257)],
    ["a newline", "a\nb"],
    ["a tab", "a\tb"],
    ["NUL", "\u0000"],
    ["DEL", "\u007f"],
    ["a C1 control", "a\u0085b"],
    ["a number", 7],
    ["null", null],
    ["an object", { toString: () => "x" }],
  ])("rejects %s with INVALID_ID without echoing it", (_, id) => {
    let error: unknown;
    try {
      assertValidId(id);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(SessionStoreError);
    expect((error as SessionStoreError).code).toBe("INVALID_ID");
    if (typeof id === "string" && id.length > 3) expect((error as Error).message).not.toContain(id);
  });
});

describe("versions", () => {
  it("are 12 base64url characters and all different (a counter after a per-process random prefix)", () => {
    const versions = Array.from({ length: 200_000 }, () => newVersion());
    expect(new Set(versions).size).toBe(versions.length);
    for (const version of versions.slice(0, 100)) expect(version).toMatch(/^[A-Za-z0-9_-]{12}$/);
    // Every counter digit takes part: versions 64 and 4096 apart differ.
    expect(new Set(versions.map((v) => v.slice(8))).size).toBe(versions.length);
  });
});

describe("the JSON fast path of a save", () => {
  it("builds exactly the body the serializer would, around the data's one JSON text", () => {
    const base = { createdAtMs: 1_700_000_000_000, expiresAtMs: 1_700_000_060_000.5, ttlMs: 60_000, version: "v" };
    const data = { user: { name: 'A "quoted" ü\\ name', tags: ["x"] }, n: 0.1, empty: {}, list: [null, true] };
    const extras: Array<Partial<SessionRecord>> = [{}, { userId: 'u"1' }, { meta: { ip: "10.0.0.1", ua: "é\n" } }, { userId: "u", meta: {}, indexedUntilMs: 1_700_000_090_000 }];
    for (const extra of extras) {
      const record: SessionRecord = { ...base, ...extra, data };
      expect(encodeJsonBody(dataJson(data), record)).toBe(encodeBody(record, jsonSerializer));
    }
  });
});

describe("sameJsonData", () => {
  const body = (data: object) => encodeBody({ data, createdAtMs: 1, expiresAtMs: 2, ttlMs: 3, version: "v" }, jsonSerializer);
  it("says yes only for exactly the stored data's JSON text", () => {
    const stored = body({ user: "ada", views: 5 });
    expect(sameJsonData(stored, dataJson({ user: "ada", views: 5 }))).toBe(true);
    expect(sameJsonData(stored, dataJson({ user: "ada", views: 6 }))).toBe(false);
    expect(sameJsonData(stored, dataJson({ user: "ada" }))).toBe(false); // a prefix of the stored data
    expect(sameJsonData(stored, dataJson({ views: 5, user: "ada" }))).toBe(false); // reordered: mayBeReordered's case
    expect(sameJsonData(stored, `${dataJson({ user: "ada", views: 5 })},"c":1`)).toBe(false); // runs past the data part
    expect(sameJsonData(`{"x":${dataJson({ user: "ada", views: 5 })},"c":1}`, dataJson({ user: "ada", views: 5 }))).toBe(false);
  });
});

describe("mayBeReordered", () => {
  const body = (data: object) => encodeBody({ data, createdAtMs: 1, expiresAtMs: 2, ttlMs: 3, version: "v" }, jsonSerializer);
  it("says yes for the stored data with its keys in another order, no for a changed value or field", () => {
    const stored = body({ user: "ada", views: 5, tags: ["a"] });
    expect(mayBeReordered(stored, dataJson({ views: 5, tags: ["a"], user: "ada" }))).toBe(true);
    expect(mayBeReordered(stored, dataJson({ user: "ada", views: 6, tags: ["a"] }))).toBe(false);
    expect(mayBeReordered(stored, dataJson({ user: "ada", views: 5, tags: ["a"], x: 1 }))).toBe(false);
  });

  it("counts characters outside ASCII by their UTF-8 bytes: reordered still yes, a changed accent no", () => {
    const stored = body({ name: "Zoë", city: "Łódź", note: "日本" });
    expect(mayBeReordered(stored, dataJson({ city: "Łódź", note: "日本", name: "Zoë" }))).toBe(true);
    expect(mayBeReordered(stored, dataJson({ name: "Zoé", city: "Łódź", note: "日本" }))).toBe(false);
  });
});

describe("record envelope", () => {
  const record = (data: Record<string, unknown>): SessionRecord => ({ data, createdAtMs: 1_700_000_000_000, expiresAtMs: 1_700_000_060_000, ttlMs: 60_000, version: newVersion() });

  it("round-trips a record, with the version readable without decoding", () => {
    const original = { ...record({ user: "ada", n: [1, 2, { deep: true }] }), userId: "u1", meta: { ip: "10.0.0.1" } };
    const text = encodeRecord(original, "sess:x", jsonSerializer);
    expect(text.startsWith(versionPrefix(original.version))).toBe(true);
    expect(peekVersion(text)).toBe(original.version);
    expect(decodeRecord(text, "sess:x", jsonSerializer)).toEqual(original);
  });

  it("stores a Date as its ISO-8601 string (JSON has no dates)", () => {
    const text = encodeRecord(record({ at: new Date("2020-01-02T03:04:05.678Z") }), "k", jsonSerializer);
    expect(decodeRecord(text, "k", jsonSerializer)?.data).toEqual({ at: "2020-01-02T03:04:05.678Z" });
  });

  it("drops __proto__ and constructor.prototype keys instead of polluting objects", () => {
    const body = '{"d":{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"ok":1},"c":1,"e":2,"t":3}';
    const decoded = decodeRecord(`sb1:AAAAAAAAAAAA:${body}`, "k", jsonSerializer);
    expect(decoded?.data.ok).toBe(1);
    expect(Object.hasOwn(decoded?.data ?? {}, "__proto__")).toBe(false);
    expect((decoded?.data as { polluted?: unknown }).polluted).toBeUndefined();
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it.each([
    ["not an envelope", "hello"],
    ["a short version", "sb1:abc:{}"],
    ["broken JSON", "sb1:AAAAAAAAAAAA:{"],
    ["an array body", "sb1:AAAAAAAAAAAA:[]"],
    ["data that is not an object", 'sb1:AAAAAAAAAAAA:{"d":"x","c":1,"e":2,"t":3}'],
    ["a missing field", 'sb1:AAAAAAAAAAAA:{"d":{},"c":1,"e":2}'],
    ["a non-string user id", 'sb1:AAAAAAAAAAAA:{"d":{},"c":1,"e":2,"t":3,"u":5}'],
  ])("decodes %s as null (corrupt), never throwing", (_, text) => {
    expect(decodeRecord(text, "k", jsonSerializer)).toBeNull();
  });

  it("round-trips any JSON object (property)", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (data) => {
        const clean = JSON.parse(JSON.stringify(data)) as Record<string, unknown>;
        const text = encodeRecord(record(clean), "k", jsonSerializer);
        const decoded = decodeRecord(text, "k", jsonSerializer);
        // __proto__ keys are dropped on purpose; everything else comes back unchanged.
        const expected = JSON.parse(JSON.stringify(clean), (key, value) => (key === "__proto__" ? undefined : value)) as unknown;
        expect(JSON.stringify(decoded?.data)).toBe(JSON.stringify(expected));
      }),
      { numRuns: 200 },
    );
  });
});

describe("SCAN pattern", () => {
  it("escapes Redis glob characters in the prefix", () => {
    expect(escapeGlob("sess:")).toBe("sess:");
    expect(escapeGlob("a*b?c[d]e\\f^")).toBe("a\\*b\\?c\\[d\\]e\\\\f\\^");
  });
});
