import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ADAPTER_BACKENDS, startAdapterBackend, type AdapterBackend } from "../src/adapter-backends.js";
import { call, gate, start, type Framework, type Instance } from "./security.apps.js";

/**
 * Logouts that stick and concurrent updates, proven with real concurrent HTTP requests through every
 * adapter: an Express, a Fastify and a Koa instance (each with its own store and connection, like
 * instances behind a load balancer) share one backend and one cookie. A request is held open at a gate
 * after its framework loaded the session, while a request on another instance logs out or changes the
 * session; then it is released, and what its framework saved is observed.
 */

/** Two requests that both load the same version of the session before either writes; the first writes first. */
async function race(first: [Instance, string], second: [Instance, string], cookie: string): Promise<void> {
  const gates = [gate(), gate()] as const;
  first[0].gates.set("race", gates[0]);
  second[0].gates.set("race", gates[1]);
  const requests = [call(first[0], "POST", `${first[1]}?gate=race`, cookie), call(second[0], "POST", `${second[1]}?gate=race`, cookie)] as const;
  await Promise.all([gates[0].entered, gates[1].entered]);
  gates[0].release();
  expect((await requests[0]).status).toBe(200);
  gates[1].release();
  expect((await requests[1]).status).toBe(200);
}

/** [instance holding a request, instance doing the other thing]: every framework plays both roles. */
const PAIRS: Array<[Framework, Framework]> = [
  ["express", "fastify"],
  ["fastify", "koa"],
  ["koa", "express"],
];

const instances: Instance[] = [];
afterEach(async () => {
  await Promise.all(instances.splice(0).map((instance) => instance.close()));
});

describe.each(ADAPTER_BACKENDS)("concurrent requests through the adapters on %s", (kind) => {
  let backend: AdapterBackend;
  beforeAll(async () => {
    backend = await startAdapterBackend(kind);
  });
  afterAll(async () => {
    await backend?.dispose();
  });
  const open = async (framework: Framework) => {
    // A generous deadline: this machine is shared, and a slow reply is not what these tests are about.
    const instance = await start(framework, backend.createStore({ userIdFrom: (d) => d.userId, timeoutMs: 3000 }));
    instances.push(instance);
    return instance;
  };

  it.each(PAIRS)("does not write back a session logged out while a request held it (%s holds, %s logs out)", async (holder, other) => {
    const [a, b] = [await open(holder), await open(other)];
    const cookie = (await call(a, "POST", "/login/ada")).cookie!;
    const waiting = gate();
    a.gates.set("slow", waiting);
    const slow = call(a, "POST", "/set/cart/full?gate=slow", cookie);
    await waiting.entered;
    expect((await call(b, "POST", "/logout", cookie)).status).toBe(200);
    waiting.release();
    await slow;
    // The in-flight write did not resurrect the session, seen from either instance.
    expect((await call(a, "GET", "/me", cookie)).body).toEqual({});
    expect((await call(b, "GET", "/me", cookie)).body).toEqual({});
  });

  it.each(PAIRS)("does not write back a session revoked by 'log out everywhere' while a request held it (%s holds, %s revokes)", async (holder, other) => {
    const [a, b] = [await open(holder), await open(other)];
    if (!a.core.backend.capabilities.userIndex) {
      // Memcached: no per-user index, and it says so.
      await expect(a.core.sessionsOf("ada")).rejects.toMatchObject({ code: "UNSUPPORTED" });
      return;
    }
    const phone = (await call(a, "POST", "/login/ada")).cookie!;
    const laptop = (await call(b, "POST", "/login/ada")).cookie!;
    const waiting = gate();
    a.gates.set("slow", waiting);
    const slow = call(a, "POST", "/set/cart/full?gate=slow", phone);
    await waiting.entered;
    expect((await call(b, "POST", "/logout-everywhere", laptop)).body).toEqual({ destroyed: 2 });
    waiting.release();
    await slow;
    expect((await call(b, "GET", "/me", phone)).body).toEqual({});
    expect((await call(a, "GET", "/me", laptop)).body).toEqual({});
  });

  it.each(PAIRS)("keeps both of two concurrent requests that change different fields (%s, then %s)", async (first, second) => {
    const [a, b] = [await open(first), await open(second)];
    const cookie = (await call(a, "POST", "/login/ada")).cookie!;
    await race([a, "/set/theme/dark"], [b, "/set/cart/3-items"], cookie);
    expect((await call(a, "GET", "/me", cookie)).body).toEqual({ userId: "ada", theme: "dark", cart: "3-items" });
  });

  it.each(PAIRS)("on a clash over one field, the later write wins and a 'conflict' event names it (%s, then %s)", async (first, second) => {
    const [a, b] = [await open(first), await open(second)];
    const conflicts: string[][] = [];
    b.core.on("conflict", ({ fields }) => conflicts.push(fields));
    const cookie = (await call(a, "POST", "/login/ada")).cookie!;
    await race([a, "/set/theme/dark"], [b, "/set/theme/light"], cookie);
    expect((await call(a, "GET", "/me", cookie)).body).toMatchObject({ theme: "light" });
    expect(conflicts).toEqual([["theme"]]);
  });

  it("loses no field when many requests on all three frameworks change one session at once", async () => {
    const all = [await open("express"), await open("fastify"), await open("koa"), await open("express"), await open("fastify"), await open("koa")];
    const cookie = (await call(all[0]!, "POST", "/login/ada")).cookie!;
    const results = await Promise.all(Array.from({ length: 16 }, (_, i) => call(all[i % all.length]!, "POST", `/set/f${i}/v${i}`, cookie)));
    // A save that loses more races than the store retries within timeoutMs fails with CONFLICT (an
    // error the app sees) instead of losing the field silently.
    const errors = all.flatMap((instance) => instance.errors);
    expect(errors.map((error) => error.code).filter((code) => code !== "CONFLICT")).toEqual([]);
    const failed = results.filter((r) => r.status !== 200).length + all.filter((i) => i.framework === "express").flatMap((i) => i.errors).length;
    const body = (await call(all[1]!, "GET", "/me", cookie)).body;
    const kept = Array.from({ length: 16 }, (_, i) => body[`f${i}`] === `v${i}`).filter(Boolean).length;
    expect(kept + failed).toBe(16);
  });
});
