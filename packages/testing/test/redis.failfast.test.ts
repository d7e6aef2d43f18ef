import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createSessionStore, redisBackend, type SessionStore, type SessionStoreOptions } from "@sessionbridge/core";
import { eventually, rejection, uniquePrefix } from "../src/contract.js";
import { freePort } from "../src/process.js";
import { startHangListener, startProxy, startRedis, type HangListener, type RedisServer, type SwitchableProxy } from "../src/redis.js";

/**
 * Fail fast and recover: with the server stopped, refusing, hung or demoted, every operation rejects with
 * UNAVAILABLE or TIMEOUT (the deadline guarantees "within timeoutMs"; vitest's timeout catches a hang),
 * nothing is executed after it was given up, and the store comes back by itself.
 */

const TIMEOUT_MS = 400;
const FAST_FAILURES = ["UNAVAILABLE", "TIMEOUT"];

const stores: SessionStore[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()));
});

function open(url: string, options: Partial<SessionStoreOptions> = {}): SessionStore & { events: string[] } {
  const store = createSessionStore({ url, timeoutMs: TIMEOUT_MS, prefix: uniquePrefix("ff"), ...options });
  const events: string[] = [];
  store.on("unavailable", () => events.push("unavailable"));
  store.on("available", () => events.push("available"));
  stores.push(store);
  return Object.assign(store, { events });
}

/** Every store operation, each of which must reject fast while the server is gone. */
function everyOperation(store: SessionStore): Array<[string, () => Promise<unknown>]> {
  return [
    ["get", () => store.get("someone")],
    ["set", () => store.set("someone", { a: 1 })],
    ["touch", () => store.touch("someone")],
    ["destroy", () => store.destroy("someone")],
    ["save", () => store.save("someone", { a: 1 }, { previous: null })],
    ["length", () => store.length()],
    ["clear", () => store.clear()],
    ["ping", () => store.ping()],
  ];
}

async function expectAllFailFast(store: SessionStore): Promise<void> {
  for (const [name, operation] of everyOperation(store)) {
    const failure = await rejection(operation);
    expect(FAST_FAILURES, `${name}: ${failure.message}`).toContain(failure.code);
  }
}

describe("a server that stops and comes back on the same port", () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it("rejects every operation with UNAVAILABLE while stopped, never runs them later, and recovers by itself", async () => {
    const store = open(server.url);
    await store.set("before", { a: 1 });
    await server.stop();

    await expectAllFailFast(store);
    // A busy web tier: many requests at once all get their answer, none is left hanging.
    const burst = await Promise.allSettled(Array.from({ length: 200 }, (_, i) => store.get(`visitor-${i}`)));
    for (const outcome of burst) expect(FAST_FAILURES).toContain(outcome.status === "rejected" ? (outcome.reason as { code: string }).code : "resolved");
    expect((await rejection(store.set("stale", { written: "while down" }))).code).toMatch(/UNAVAILABLE|TIMEOUT/);
    expect(store.events).toContain("unavailable");

    await server.restart(); // empty: no persistence
    await eventually("the store works again", async () => {
      await store.set("after", { a: 2 });
      return true;
    });
    expect(await store.get("after")).toEqual({ a: 2 });
    expect(store.events.at(-1)).toBe("available");
    // A command queued while the server was down and replayed after the reconnect would show up here.
    expect(await store.get("stale")).toBeNull();
    expect(await server.command("DBSIZE")).toBe(1);
  });

  it("says 'connection lost', not 'not connected yet', when a connection that was up goes away", async () => {
    const store = open(server.url);
    const reasons: string[] = [];
    store.on("unavailable", (error) => reasons.push(error.message));
    await store.set("up", { a: 1 });
    await server.stop();
    await eventually("the store reported the server unavailable", () => reasons.length > 0);
    expect(reasons[0]).toContain("connection lost");
    expect(reasons[0]).not.toContain("not connected yet");
    await server.restart();
    await eventually("the store works again", async () => (await store.ping(), true));
  });

  it("fails in-flight commands when the server is killed, and recovers after it restarts", async () => {
    const store = open(server.url);
    await store.set("x", { a: 1 });
    const inflight = Array.from({ length: 50 }, (_, i) => store.set(`burst-${i}`, { i }).then(() => "ok", (error: { code: string }) => error.code));
    await server.kill();
    const outcomes = await Promise.all(inflight);
    for (const outcome of outcomes) expect(["ok", ...FAST_FAILURES]).toContain(outcome);
    await expectAllFailFast(store);
    await server.restart();
    await eventually("the store works again", async () => (await store.ping(), true));
    expect(await store.get("x")).toBeNull(); // a fresh, empty server
  });
});

describe("a port where nothing listens", () => {
  it("rejects every operation with UNAVAILABLE naming the server, never the password", async () => {
    const port = await freePort();
    const store = open(`redis://:hunter2-secret@127.0.0.1:${port}`);
    await expectAllFailFast(store);
    const failure = await rejection(store.get("someone"));
    expect(failure.code).toBe("UNAVAILABLE");
    expect(failure.message).toContain(`redis 127.0.0.1:${port}`);
    expect(failure.message).toContain("ECONNREFUSED");
    expect(failure.message).not.toContain("hunter2");
    expect(store.events).toEqual(["unavailable"]);
  });
});

describe("a server that accepts connections and never answers", () => {
  let hang: HangListener;
  beforeAll(async () => {
    hang = await startHangListener();
  });
  afterAll(async () => {
    await hang?.close();
  });

  it("rejects every operation with UNAVAILABLE or TIMEOUT and keeps trying new connections", async () => {
    const store = open(hang.url);
    await expectAllFailFast(store);
    expect(hang.connections()).toBeGreaterThanOrEqual(1);
    // The unanswered handshake times out and the client reconnects, instead of waiting forever.
    const seen = hang.connections();
    await eventually("the client opened a new connection", () => hang.connections() > seen);
  });
});

describe("a server that hangs after the connection was ready (SIGSTOP)", () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it("rejects operations while it is frozen and recovers when it resumes", async () => {
    const store = open(server.url);
    await store.set("kept", { a: 1 });
    server.pause();
    try {
      await expectAllFailFast(store);
      await eventually("the store reported the server unavailable", () => store.events.includes("unavailable"));
      // The hung connection was dropped: this write is refused without being sent, so the server cannot
      // run it when it thaws. (Commands already delivered before the freeze are in the server's buffer
      // and do run then: no client can recall bytes it has sent.)
      expect(FAST_FAILURES).toContain((await rejection(store.set("refused", { a: 2 }))).code);
    } finally {
      server.resume();
    }
    await eventually("the store reads again", async () => (await store.get("kept")) !== null);
    expect(await store.get("kept")).toEqual({ a: 1 });
    expect(await store.get("refused")).toBeNull();
    expect(store.events.at(-1)).toBe("available");
  });
});

describe("a primary demoted to a replica (READONLY)", () => {
  let primary: RedisServer;
  let other: RedisServer;
  beforeAll(async () => {
    [primary, other] = await Promise.all([startRedis(), startRedis()]);
  });
  afterAll(async () => {
    await Promise.all([primary?.dispose(), other?.dispose()]);
  });

  it("reconnects and retries once, then reports UNAVAILABLE pointing at the primary endpoint; works again once promoted", async () => {
    const store = open(primary.url, { timeoutMs: 2000 });
    await store.set("before", { a: 1 });
    await primary.command("REPLICAOF", "127.0.0.1", other.port);
    const connectionsBefore = await totalConnections(primary);

    const failure = await rejection(store.set("during", { a: 2 }));
    expect(failure.code).toBe("UNAVAILABLE");
    expect(failure.message).toMatch(/READONLY/);
    expect(failure.message).toMatch(/primary/);
    // The READONLY reply made the backend open a fresh connection before its single retry (the +1 is
    // the admin connection that reads the count).
    expect(await totalConnections(primary)).toBeGreaterThan(connectionsBefore + 1);

    await primary.command("REPLICAOF", "NO", "ONE");
    await eventually("writes succeed again", async () => {
      await store.set("after", { a: 3 });
      return true;
    });
    expect(await store.get("after")).toEqual({ a: 3 });
  });
});

describe("a failover behind a primary endpoint (the name moves to the new primary)", () => {
  let oldPrimary: RedisServer;
  let newPrimary: RedisServer;
  let endpoint: SwitchableProxy;
  beforeAll(async () => {
    [oldPrimary, newPrimary] = await Promise.all([startRedis(), startRedis()]);
    endpoint = await startProxy(oldPrimary.port);
  });
  afterAll(async () => {
    await endpoint?.close();
    await Promise.all([oldPrimary?.dispose(), newPrimary?.dispose()]);
  });

  it("turns the READONLY of the demoted primary into a reconnect and a successful retry on the new one", async () => {
    const store = open(endpoint.url, { timeoutMs: 2000 });
    await store.set("before", { a: 1 });
    // The failover: the old primary becomes a replica, the endpoint now leads to the new primary.
    await oldPrimary.command("REPLICAOF", "127.0.0.1", newPrimary.port);
    endpoint.setTarget(newPrimary.port);

    await store.set("after", { a: 2 }); // first try: READONLY on the old connection; retry: new primary
    expect(await store.get("after")).toEqual({ a: 2 });
    const key = `${store.options.prefix}after`;
    expect(await newPrimary.command("EXISTS", key)).toBe(1);
  });
});

describe("a server that is loading its dataset after a restart (LOADING)", () => {
  let server: RedisServer;
  beforeAll(async () => {
    // key-load-delay (µs per key) stretches loading to a few seconds so the window can be observed.
    server = await startRedis({ kind: "plain" }, { args: ["--key-load-delay", "100", "--loading-process-events-interval-bytes", "1024"] });
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it("rejects with UNAVAILABLE naming LOADING while the server loads, then serves the loaded sessions", async () => {
    const store = open(server.url, { timeoutMs: 1000 });
    await store.set("survivor", { a: 1 });
    await server.command("EVAL", "for i = 1, 15000 do redis.call('SET', 'filler:' .. i, 'x') end return 1", 0);
    await server.command("SAVE");
    await server.restart(); // loads dump.rdb from its directory

    const failures: Array<{ code: string; message: string }> = [];
    await eventually(
      "the store reads the loaded session",
      async () => {
        try {
          return (await store.get("survivor")) !== null;
        } catch (error) {
          failures.push(error as { code: string; message: string });
          throw error;
        }
      },
      30_000,
      100,
    );
    expect(failures.some((failure) => /LOADING/.test(failure.message))).toBe(true);
    for (const failure of failures) expect(FAST_FAILURES).toContain(failure.code);
    expect(await store.get("survivor")).toEqual({ a: 1 });
  });
});

/** Connections the server accepted since it started (our admin commands add one each). */
async function totalConnections(server: RedisServer): Promise<number> {
  const info = String(await server.command("INFO", "stats"));
  return Number(/total_connections_received:(\d+)/.exec(info)?.[1]);
}
