import { describe, expect, it, vi } from "vitest";
import { createSessionStore, memoryBackend } from "@sessionbridge/core";
import { eventually, rejection } from "../src/contract.js";

/** What the memory backend adds to the shared contract: a bound on memory and its own option checks. */
describe("memory backend", () => {
  it("keeps at most maxEntries, evicting the entry closest to expiry", async () => {
    const backend = memoryBackend({ maxEntries: 3 });
    await backend.set("soon", "1", 10_000);
    await backend.set("later", "2", 60_000);
    await backend.set("latest", "3", 120_000);
    await backend.set("new", "4", 90_000);
    expect(await backend.get("soon")).toBeNull();
    expect(await Promise.all(["later", "latest", "new"].map((key) => backend.get(key)))).toEqual(["2", "3", "4"]);
    await backend.close();
  });

  it("keeps its keys and values within maxMemoryBytes, evicting the entries closest to expiry", async () => {
    const backend = memoryBackend({ maxMemoryBytes: 10_000 }); // about 4 values of 1 000 characters
    const value = "x".repeat(1000);
    for (let i = 0; i < 10; i++) await backend.set(`k${i}`, value, 60_000 + i * 1000); // later keys live longer
    const kept = (await Promise.all(Array.from({ length: 10 }, (_, i) => backend.get(`k${i}`)))).map((v) => v !== null);
    expect(kept.filter(Boolean).length).toBe(4); // 4 × 2 × (2 + 1000) bytes fit in 10 000, 5 do not
    expect(kept.slice(6)).toEqual([true, true, true, true]); // the longest-lived stay
    // Rewriting a key replaces its bytes instead of adding to them.
    for (let i = 0; i < 20; i++) await backend.set("k9", value, 120_000);
    expect(await backend.get("k8")).toBe(value);
    expect((await rejection(backend.set("huge", "y".repeat(6000), 60_000))).code).toBe("TOO_LARGE");
    expect(await backend.get("k9")).toBe(value); // nothing was evicted for the refused value
    await backend.close();
  });

  it("makes room from expired entries before evicting live ones", async () => {
    const backend = memoryBackend({ maxEntries: 2 });
    await backend.set("expires", "1", 30);
    await backend.set("stays", "2", 60_000);
    await eventually("the short entry expired", async () => {
      for await (const batch of backend.scan("")) if (batch.includes("expires")) return false;
      return true;
    });
    await backend.set("new", "3", 60_000);
    expect(await backend.get("stays")).toBe("2");
    expect(await backend.get("new")).toBe("3");
    await backend.close();
  });

  it("does an operation's work when called and answers in a later turn, as a server would", async () => {
    const backend = memoryBackend();
    // Work at the call: a read started right after a write in the same turn sees it, and of two creates
    // of one key in the same turn exactly one wins (the check and the write are one step).
    const writes = [backend.set("k", "1", 60_000, { kind: "absent" }), backend.set("k", "2", 60_000, { kind: "absent" })];
    const read = backend.get("k");
    expect(await Promise.all(writes)).toEqual(["ok", "exists"]);
    expect(await read).toBe("1");
    // The answer does not come within the turn that asked (microtasks), but in a later one.
    let answered = false;
    void backend.get("k").then(() => (answered = true));
    for (let i = 0; i < 20; i++) await Promise.resolve();
    expect(answered).toBe(false);
    await new Promise((resolve) => setImmediate(resolve));
    expect(answered).toBe(true);
    await backend.close();
  });

  it("answers while an application's tests use fake timers (a server's answers are not faked either)", async () => {
    const backend = memoryBackend();
    vi.useFakeTimers();
    try {
      await backend.set("k", "v", 60_000);
      expect(await backend.get("k")).toBe("v");
      const store = createSessionStore({ backend: memoryBackend() });
      await store.set("s", { user: "ada" });
      expect(await store.get("s")).toEqual({ user: "ada" });
      await store.close();
    } finally {
      vi.useRealTimers();
      await backend.close();
    }
  });

  it("is not shared between two backends (one process only)", async () => {
    const a = createSessionStore({ backend: memoryBackend() });
    const b = createSessionStore({ backend: memoryBackend() });
    await a.set("id", { x: 1 });
    expect(await b.get("id")).toBeNull();
    await Promise.all([a.close(), b.close()]);
  });

  it("rejects bad options with CONFIG naming them", async () => {
    expect((await rejection(async () => memoryBackend({ maxEntries: 0 }))).message).toContain('"maxEntries"');
    expect((await rejection(async () => memoryBackend({ sweepIntervalMs: -1 }))).message).toContain('"sweepIntervalMs"');
    expect((await rejection(async () => memoryBackend({ maxMemoryBytes: 0.5 }))).message).toContain('"maxMemoryBytes"');
  });
});
