import diagnosticsChannel from "node:diagnostics_channel";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { AVAILABILITY_CHANNEL, createSessionStore, TRACING_CHANNELS, type AvailabilityMessage, type OperationContext, type SessionStore, type TracedOperation } from "@sessionbridge/core";
import { eventually, rejection, uniquePrefix } from "../src/contract.js";
import { startRedis, type RedisServer } from "../src/redis.js";

/**
 * The store's operations on `node:diagnostics_channel` (public API, docs/operations.md), seen by a
 * subscriber against a real redis-server: the sub-channels in order, the outcome, the size, and nothing
 * of the session id, its data or the password.
 */

const SECRET_ID = "session-id-that-must-not-leak-0123456789";
const PASSWORD = "tracing-password-that-must-not-leak";

interface Seen {
  channel: TracedOperation;
  phase: "start" | "end" | "asyncStart" | "asyncEnd" | "error";
  context: OperationContext;
  snapshot: string;
}

function subscribeAll(): { seen: Seen[]; availability: AvailabilityMessage[]; stop(): void } {
  const seen: Seen[] = [];
  const availability: AvailabilityMessage[] = [];
  const offs: Array<() => void> = [];
  for (const [operation, name] of Object.entries(TRACING_CHANNELS) as Array<[TracedOperation, string]>) {
    const channel = diagnosticsChannel.tracingChannel<unknown, OperationContext>(name);
    const record = (phase: Seen["phase"]) => (context: OperationContext) => seen.push({ channel: operation, phase, context, snapshot: JSON.stringify(context, (_, value: unknown) => (value instanceof Error ? { code: (value as { code?: string }).code, message: value.message } : value)) });
    const handlers = { start: record("start"), end: record("end"), asyncStart: record("asyncStart"), asyncEnd: record("asyncEnd"), error: record("error") };
    channel.subscribe(handlers);
    offs.push(() => channel.unsubscribe(handlers));
  }
  const onAvailability = (message: unknown) => availability.push(message as AvailabilityMessage);
  diagnosticsChannel.subscribe(AVAILABILITY_CHANNEL, onAvailability);
  offs.push(() => diagnosticsChannel.unsubscribe(AVAILABILITY_CHANNEL, onAvailability));
  return { seen, availability, stop: () => offs.forEach((off) => off()) };
}

/** The finished operations (their asyncEnd), in order. */
function finished(seen: Seen[]): OperationContext[] {
  return seen.filter((event) => event.phase === "asyncEnd").map((event) => event.context);
}

describe("tracing channels on a real redis-server", () => {
  let server: RedisServer;
  let store: SessionStore;
  let subscription: ReturnType<typeof subscribeAll> | undefined;
  beforeAll(async () => {
    server = await startRedis({ kind: "requirepass", password: PASSWORD });
  });
  afterEach(async () => {
    subscription?.stop();
    subscription = undefined;
    await store?.close();
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it("publishes a read, a write, a miss and a merge with their outcome and size, and never the id, data or password", async () => {
    store = createSessionStore({ url: server.url, prefix: uniquePrefix("trace"), timeoutMs: 1000 });
    subscription = subscribeAll();
    await store.set(SECRET_ID, { secret: "data-that-must-not-leak" });
    const loaded = await store.load(SECRET_ID);
    expect(await store.get("nobody-has-this-id")).toBeNull();
    // Two requests that loaded the same version: the second save loses the compare-and-set and merges.
    await store.save(SECRET_ID, { ...loaded?.data, a: 1 }, { previous: loaded });
    await store.save(SECRET_ID, { ...loaded?.data, b: 2 }, { previous: loaded });
    await store.destroy(SECRET_ID);

    const { seen } = subscription;
    expect(finished(seen).map((c) => [c.operation, c.outcome])).toEqual([
      ["set", "written"],
      ["get", "hit"],
      ["get", "miss"],
      ["save", "written"],
      ["save", "merged"],
      ["destroy", "hit"],
    ]);
    // Each operation goes through start → end → asyncStart → asyncEnd on its own channel, with one context.
    const setEvents = seen.filter((event) => event.channel === "set");
    expect(setEvents.map((event) => event.phase)).toEqual(["start", "end", "asyncStart", "asyncEnd"]);
    expect(new Set(setEvents.map((event) => event.context)).size).toBe(1);
    const [set, hit, miss, , merged] = finished(seen);
    expect(set).toMatchObject({ system: "redis", backend: `redis 127.0.0.1:${server.port}`, prefix: store.options.prefix });
    expect(set?.bytes).toBeGreaterThan(20);
    expect(hit?.bytes).toBe(set?.bytes);
    expect(miss?.bytes).toBeUndefined();
    expect(merged?.retries).toBe(1);
    for (const event of seen) {
      expect(event.snapshot).not.toContain(SECRET_ID);
      expect(event.snapshot).not.toContain("data-that-must-not-leak");
      expect(event.snapshot).not.toContain(PASSWORD);
    }
  });

  it("publishes an outage as errors with their code and the availability change, and the recovery", async () => {
    store = createSessionStore({ url: server.url, prefix: uniquePrefix("trace"), timeoutMs: 400 });
    await store.set("before-outage", { a: 1 });
    subscription = subscribeAll();
    await server.stop();
    try {
      const failure = await rejection(() => store.get("before-outage"));
      expect(["UNAVAILABLE", "TIMEOUT"]).toContain(failure.code);
      const errors = subscription.seen.filter((event) => event.phase === "error");
      expect(errors).toHaveLength(1);
      expect(errors[0]?.channel).toBe("get");
      expect(errors[0]?.context.error).toMatchObject({ name: "SessionStoreError", code: failure.code });
      expect(errors[0]?.context.outcome).toBeUndefined();
      expect(subscription.availability.map((message) => message.available)).toEqual([false]);
    } finally {
      await server.restart();
    }
    await eventually("the store answers again", async () => (await store.get("missing-after-restart")) === null);
    expect(subscription.availability.map((message) => message.available)).toEqual([false, true]);
    expect(subscription.availability[0]).toMatchObject({ system: "redis", backend: `redis 127.0.0.1:${server.port}` });
    expect(JSON.stringify(subscription.availability)).not.toContain(PASSWORD);
    expect(finished(subscription.seen).at(-1)).toMatchObject({ operation: "get", outcome: "miss" });
  });

  it("publishes expired and corrupt reads, per-user operations and listing batches", async () => {
    const prefix = uniquePrefix("trace");
    // Written without an absolute lifetime two minutes ago; read by a store that allows one minute.
    const writer = createSessionStore({ url: server.url, prefix, timeoutMs: 1000 });
    await writer.set("old-one", { user: "u1" }, { createdAtMs: Date.now() - 120_000 });
    await writer.close();
    store = createSessionStore({ url: server.url, prefix, timeoutMs: 1000, maxLifetimeMs: 60_000, userIdFrom: (data) => data.user });
    await server.command("SET", `${prefix}broken`, "not a session");
    subscription = subscribeAll();
    expect(await store.get("old-one")).toBeNull();
    expect(await store.get("broken")).toBeNull();
    await store.set("fresh", { user: "u1" });
    expect(await store.sessionsOf("u1")).toHaveLength(1);
    expect(await store.length()).toBeGreaterThan(0);
    const operations = finished(subscription.seen).map((c) => [c.operation, c.outcome]);
    expect(operations.slice(0, 4)).toEqual([
      ["get", "expired"],
      ["get", "corrupt"],
      ["set", "written"],
      ["sessionsOf", undefined],
    ]);
    expect(operations.slice(4).every(([operation]) => operation === "scan")).toBe(true);
  });
});
