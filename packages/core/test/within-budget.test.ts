import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createSessionStore } from "../src/store.js";
import { withinBudget, type RequestBudget } from "../src/request-budget.js";
import { SessionStoreError } from "../src/errors.js";

// withinBudget hands a request's budget to the store operation it starts. Our store takes it and counts
// the operation's time and outage itself; a store of another kind (or an operation answered at once) is
// counted by withinBudget. Both must leave the budget in the same state. Fake timers: exact times.
describe("withinBudget", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** A store of another kind: an operation that resolves after `ms` (or rejects with `error`). */
  const foreign = { options: { timeoutMs: 1000 }, backend: { label: "elsewhere" } };
  const after = <T>(ms: number, value: T, error?: unknown) => () => new Promise<T>((resolve, reject) => setTimeout(() => (error === undefined ? resolve(value) : reject(error)), ms));

  it("counts the time of an operation of a store that does not take the budget, and its outage", async () => {
    const budget: RequestBudget = {};
    const first = withinBudget(budget, foreign, "load", after(300, "a"));
    await vi.advanceTimersByTimeAsync(300);
    expect(await first).toBe("a");
    expect(budget.spentMs).toBe(300);
    const outage = new SessionStoreError("UNAVAILABLE", "down");
    const second = withinBudget(budget, foreign, "save", after(100, "b", outage));
    const seen = second.catch((error: unknown) => error);
    await vi.advanceTimersByTimeAsync(100);
    expect(await seen).toBe(outage);
    expect(budget).toEqual({ spentMs: 400, failure: outage });
    // The next operation fails at once with the same error, without starting.
    const start = vi.fn(after(1, "c"));
    await expect(withinBudget(budget, foreign, "touch", start)).rejects.toBe(outage);
    expect(start).not.toHaveBeenCalled();
  });

  it("bounds a foreign store's later operation by what is left of the budget", async () => {
    const budget: RequestBudget = { spentMs: 900 };
    const late = withinBudget(budget, foreign, "save", after(5000, "never")).catch((error: unknown) => error);
    await vi.advanceTimersByTimeAsync(100);
    const error = (await late) as SessionStoreError;
    expect(error.code).toBe("TIMEOUT");
    expect(error.message).toContain("the rest of this request's 1000 ms");
    expect(budget.spentMs).toBe(1000);
    expect(budget.failure).toBe(error);
  });

  it("lets our store take the budget: the store counts the operation, once, and a refused start spends nothing", async () => {
    const store = createSessionStore({ url: "memory://", timeoutMs: 1000 });
    const budget: RequestBudget = {};
    /** Starts `operation`, then lets `ms` pass before it settles (the memory backend answers on the next tick). */
    const taking = <T>(ms: number, operation: () => Promise<T>) => () => {
      const work = operation();
      vi.setSystemTime(Date.now() + ms);
      return work;
    };
    await withinBudget(budget, store, "save", taking(40, () => store.set("a", { n: 1 })));
    expect(budget.spentMs).toBe(40); // counted once (twice would be 80)
    expect(await withinBudget(budget, store, "load", taking(25, () => store.get("a")))).toEqual({ n: 1 });
    expect(budget.spentMs).toBe(65);
    await store.close();
    const closed = await withinBudget(budget, store, "load", () => store.get("a")).catch((error: unknown) => error);
    expect((closed as SessionStoreError).code).toBe("CLOSED");
    expect(budget.failure).toBe(closed);
  });
});
