import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { Deadlines } from "../src/deadline.js";

// Pure timing logic: fake timers, so each deadline is exact and the test does not wait.
describe("Deadlines (one timer for all operations of a store)", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const never = () => new Promise<string>(() => undefined);
  const later = <T>(ms: number, value: T) => () => new Promise<T>((resolve) => setTimeout(() => resolve(value), ms));
  /** Records how each operation ended, in the order they ended. */
  const recorder = () => {
    const outcomes: string[] = [];
    const track = (name: string, work: Promise<unknown>) =>
      work.then(
        () => outcomes.push(`${name} ok`),
        (error: { code?: string }) => outcomes.push(`${name} ${error.code}`),
      );
    return { outcomes, track };
  };

  it("rejects an operation that never settles with TIMEOUT once timeoutMs has passed, not before", async () => {
    const deadlines = new Deadlines(1000, "redis 127.0.0.1:6379");
    let outcome: unknown = "pending";
    deadlines.run("get", never).catch((error: unknown) => (outcome = error));
    await vi.advanceTimersByTimeAsync(999);
    expect(outcome).toBe("pending");
    await vi.advanceTimersByTimeAsync(1);
    expect(outcome).toMatchObject({ code: "TIMEOUT", message: expect.stringContaining("redis 127.0.0.1:6379: get did not finish within 1000 ms") });
  });

  it("answers operations that settle in time with their own result or error", async () => {
    const deadlines = new Deadlines(1000, "memory");
    const settle = (work: Promise<unknown>) => work.then((value) => ({ value }), (error: Error) => ({ error: error.message }));
    const ok = settle(deadlines.run("get", later(10, "value")));
    const failed = settle(deadlines.run("set", () => Promise.reject(new Error("nope"))));
    const threw = settle(
      deadlines.run("touch", () => {
        throw new Error("sync");
      }),
    );
    await vi.advanceTimersByTimeAsync(10);
    expect(await ok).toEqual({ value: "value" });
    expect(await failed).toEqual({ error: "nope" });
    expect(await threw).toEqual({ error: "sync" });
  });

  it("times out each hung operation at its own deadline, whatever settled before or between them", async () => {
    const deadlines = new Deadlines(100, "memory");
    const { outcomes, track } = recorder();
    track("a", deadlines.run("get", never)); // deadline 100
    await vi.advanceTimersByTimeAsync(30);
    track("b", deadlines.run("get", later(20, 1))); // settles at 50
    await vi.advanceTimersByTimeAsync(20);
    track("c", deadlines.run("get", never)); // deadline 150
    await vi.advanceTimersByTimeAsync(49);
    expect(outcomes).toEqual(["b ok"]);
    await vi.advanceTimersByTimeAsync(1);
    expect(outcomes).toEqual(["b ok", "a TIMEOUT"]);
    await vi.advanceTimersByTimeAsync(49);
    expect(outcomes).toEqual(["b ok", "a TIMEOUT"]);
    await vi.advanceTimersByTimeAsync(1);
    expect(outcomes).toEqual(["b ok", "a TIMEOUT", "c TIMEOUT"]);
  });

  it("times out an operation with a shorter deadline of its own (a request's budget) at that deadline, before older ones, and keeps theirs", async () => {
    const deadlines = new Deadlines(100, "memory");
    const { outcomes, track } = recorder();
    track("a", deadlines.run("get", never)); // deadline 100
    await vi.advanceTimersByTimeAsync(10);
    const b = deadlines.run("save (the rest)", never, 30); // deadline 40, earlier than the armed timer
    track("b", b);
    track("c", deadlines.run("touch (the rest)", later(20, 1), 50)); // settles at 30
    await vi.advanceTimersByTimeAsync(29);
    expect(outcomes).toEqual(["c ok"]);
    await vi.advanceTimersByTimeAsync(1);
    expect(outcomes).toEqual(["c ok", "b TIMEOUT"]);
    await expect(b).rejects.toMatchObject({ message: expect.stringContaining("save (the rest) did not finish within 30 ms") });
    await vi.advanceTimersByTimeAsync(59);
    expect(outcomes).toEqual(["c ok", "b TIMEOUT"]);
    await vi.advanceTimersByTimeAsync(1);
    expect(outcomes).toEqual(["c ok", "b TIMEOUT", "a TIMEOUT"]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("drops a late result and swallows a late rejection (no unhandled rejection)", async () => {
    const deadlines = new Deadlines(50, "memory");
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      const late = deadlines.run("get", () => new Promise((_, reject) => setTimeout(() => reject(new Error("late")), 80)));
      const result = late.catch((error: { code?: string }) => error.code);
      await vi.advanceTimersByTimeAsync(100);
      expect(await result).toBe("TIMEOUT");
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });

  it("keeps no timer once nothing is pending, so an idle store does not hold the process", async () => {
    const deadlines = new Deadlines(1000, "memory");
    await deadlines.run("get", () => Promise.resolve(1));
    await vi.advanceTimersByTimeAsync(1000); // the one timer fires, finds nothing, and is not re-armed
    expect(vi.getTimerCount()).toBe(0);
  });

  it("handles many operations in flight, each answered once", async () => {
    const deadlines = new Deadlines(1000, "memory");
    const results = await Promise.all(Array.from({ length: 5000 }, (_, i) => deadlines.run("get", () => Promise.resolve(i))));
    expect(results.reduce((sum, value) => sum + value, 0)).toBe((4999 * 5000) / 2);
    const hung = deadlines.run("get", never).catch((error: { code?: string }) => error.code);
    await vi.advanceTimersByTimeAsync(1000);
    expect(await hung).toBe("TIMEOUT");
  });

  it("calls an operation's settle hook once, before its caller sees the outcome, and rejects with the error it returns", async () => {
    const deadlines = new Deadlines(100, "memory");
    const calls: string[] = [];
    const hook = (failed: boolean, error: unknown, what: string, tag: string) => {
      calls.push(`${tag} ${what} ${failed ? (error as { code?: string; message: string }).code ?? (error as Error).message : "ok"}`);
      return failed ? new Error(`mapped ${tag}`) : undefined;
    };
    /** The outcome, and whether the operation's hook (tagged `tag`) had been called by then. */
    const seen = (work: Promise<unknown>, tag: string) => {
      const hooked = () => (calls.some((call) => call.startsWith(`${tag} `)) ? "hooked" : "not hooked");
      return work.then(
        (value) => `value ${String(value)}, ${hooked()}`,
        (error: Error) => `${error.message}, ${hooked()}`,
      );
    };
    const ok = seen(deadlines.run("get", later(10, "v"), undefined, undefined, hook, "a"), "a");
    const failed = seen(deadlines.run("set", () => Promise.reject(new Error("nope")), undefined, undefined, hook, "b"), "b");
    const threw = seen(
      deadlines.run("touch", () => {
        throw new Error("sync");
      }, undefined, undefined, hook, "c"),
      "c",
    );
    let finish: (value: string) => void = () => undefined;
    const late = seen(deadlines.run("get", () => new Promise<string>((resolve) => (finish = resolve)), 50, 100, hook, "d"), "d");
    await vi.advanceTimersByTimeAsync(10);
    expect(await threw).toBe("mapped c, hooked");
    expect(await failed).toBe("mapped b, hooked");
    expect(await ok).toBe("value v, hooked");
    await vi.advanceTimersByTimeAsync(40);
    expect(await late).toBe("mapped d, hooked");
    finish("too late");
    await vi.advanceTimersByTimeAsync(100);
    expect(calls).toEqual(["c touch sync", "b set nope", "a get ok", "d get TIMEOUT"]); // once each: not again for the late result
  });
});

// Real timers and a real garbage collection: what a settled operation leaves reachable.
describe("Deadlines: what a settled operation leaves behind", () => {
  /** V8's gc(), reachable without starting the test process with --expose-gc. */
  const collect = (): void => {
    setFlagsFromString("--expose-gc");
    (runInNewContext("gc") as () => void)();
  };
  const turn = () => new Promise((resolve) => setImmediate(resolve));

  it("keeps no settled operation's result alive while an older operation is still in flight", async () => {
    const deadlines = new Deadlines(60_000, "memory");
    // The oldest entry never settles (a hung command), so every later entry stays in the queue behind it.
    void deadlines.run("get", () => new Promise<never>(() => undefined)).catch(() => undefined);
    const results: Array<WeakRef<object>> = [];
    // In a function of its own, so no local of the test's frame holds the last result.
    const runAll = async () => {
      for (let i = 0; i < 20; i++) {
        const outcome = await deadlines.run("get", async () => {
          const session = { body: "x".repeat(100_000 + i) };
          results.push(new WeakRef(session));
          return session;
        });
        expect(outcome.body.length).toBe(100_000 + i);
      }
    };
    await runAll();
    await turn();
    collect();
    await turn();
    collect();
    expect(results.filter((ref) => ref.deref() !== undefined)).toHaveLength(0);
  });
});
