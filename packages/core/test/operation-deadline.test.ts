import { afterEach, describe, expect, it } from "vitest";
import { createSessionStore, memoryBackend, type Backend, type SessionStore } from "../src/index.js";

/**
 * `timeoutMs` bounds a whole store operation, not each backend command: an operation that needs two
 * commands, each of which alone would fit, still answers TIMEOUT. The memory backend is real; each
 * command is only delayed, to stand for a slow (not dead) server.
 */
const TIMEOUT_MS = 1000;
const COMMAND_DELAY_MS = 600; // one command fits in the deadline, two do not

function slowed(backend: Backend, delayMs: number): Backend {
  const later = <T>(work: () => Promise<T>) => new Promise<T>((resolve, reject) => setTimeout(() => work().then(resolve, reject), delayMs));
  return new Proxy(backend, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== "function" || !["get", "set", "touch", "delete"].includes(String(property))) return value;
      return (...args: unknown[]) => later(() => (value as (...a: unknown[]) => Promise<unknown>).apply(target, args));
    },
  });
}

describe("the deadline of a store operation", () => {
  const stores: SessionStore[] = [];
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((store) => store.close()));
  });

  function open(delayMs: number) {
    const base = memoryBackend();
    const store = createSessionStore({ backend: slowed(base, delayMs), timeoutMs: TIMEOUT_MS, ttlMs: 60_000 });
    const direct = createSessionStore({ backend: base, ttlMs: 60_000 });
    stores.push(store, direct);
    return { store, direct };
  }

  it("answers a one-command read from a slow backend normally", async () => {
    const { store, direct } = open(COMMAND_DELAY_MS);
    await direct.set("one", { a: 1 });
    await expect(store.get("one")).resolves.toEqual({ a: 1 });
  });

  it("answers TIMEOUT when a read needs a second command (the session's own TTL differs) and the two together miss the deadline", async () => {
    const { store, direct } = open(COMMAND_DELAY_MS);
    await direct.set("remembered", { a: 1 }, { ttlMs: 30 * 86_400_000 }); // a 'remember me' TTL: GET + TOUCH
    await expect(store.get("remembered")).rejects.toMatchObject({ code: "TIMEOUT", message: expect.stringContaining(`within ${TIMEOUT_MS} ms`) });
  });

  it("answers TIMEOUT when a save has to merge (write, re-read, write) and the steps together miss the deadline", async () => {
    const { store, direct } = open(COMMAND_DELAY_MS);
    await direct.set("merge", { a: 1 });
    const loaded = await direct.load("merge");
    await direct.set("merge", { a: 1, b: 2 }); // another request wrote meanwhile: the save must merge
    await expect(store.save("merge", { a: 2 }, { previous: loaded })).rejects.toMatchObject({ code: "TIMEOUT" });
  });

  it("reports the slow backend as unavailable, and available again once an operation succeeds", async () => {
    const { store, direct } = open(COMMAND_DELAY_MS);
    const events: string[] = [];
    store.on("unavailable", () => events.push("unavailable"));
    store.on("available", () => events.push("available"));
    await direct.set("remembered", { a: 1 }, { ttlMs: 30 * 86_400_000 });
    await direct.set("plain", { a: 1 });
    await expect(store.get("remembered")).rejects.toMatchObject({ code: "TIMEOUT" });
    await expect(store.get("plain")).resolves.toEqual({ a: 1 });
    expect(events).toEqual(["unavailable", "available"]);
  });
});
