import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { AggregationTemporality, DataPointType, MeterProvider, MetricReader, type ResourceMetrics } from "@opentelemetry/sdk-metrics";
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { createSessionStore, type SessionStore } from "@sessionbridge/core";
import { createCache } from "@sessionbridge/cache";
import { registerSessionbridgeInstrumentation, type SessionbridgeInstrumentation } from "../src/index.js";
import { eventually, rejection, startMemcached, startRedis, uniquePrefix, type MemcachedServer, type RedisServer } from "@sessionbridge/testing";

/**
 * The instrumentation with the real OpenTelemetry SDK (in-memory span exporter, a metric reader collected
 * on demand) against a real redis-server and memcached: a read, a write, a miss, an outage and a
 * recovery each give the right spans and metric points.
 */

class CollectingReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

const PASSWORD = "otel-password-that-must-not-leak";

let spans: InMemorySpanExporter;
let reader: CollectingReader;
let instrumentation: SessionbridgeInstrumentation;
let meterProvider: MeterProvider;
const stores: SessionStore[] = [];

beforeAll(() => {
  spans = new InMemorySpanExporter();
  reader = new CollectingReader();
  meterProvider = new MeterProvider({ readers: [reader] });
  instrumentation = registerSessionbridgeInstrumentation({ tracerProvider: new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter: spans })] }), meterProvider });
});
afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()));
});
afterAll(async () => {
  instrumentation.unregister();
  await meterProvider.shutdown();
});

/** Sum of a counter's points whose attributes include `match`. */
async function counter(name: string, match: Record<string, unknown>): Promise<number> {
  return points(await reader.collect().then((r) => r.resourceMetrics), name, match).reduce((sum, point) => sum + (point.value as number), 0);
}

function points(resourceMetrics: ResourceMetrics, name: string, match: Record<string, unknown>) {
  const metric = resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics).find((m) => m.descriptor.name === name);
  if (metric === undefined) return [];
  return (metric.dataPoints as Array<{ attributes: Record<string, unknown>; value: unknown }>).filter((point) => Object.entries(match).every(([key, value]) => point.attributes[key] === value));
}

function spansOf(prefix: string) {
  return spans.getFinishedSpans().filter((span) => span.attributes["sessionbridge.prefix"] === prefix);
}

describe("redis", () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedis({ kind: "requirepass", password: PASSWORD });
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it("records a span and a duration point per read, write and miss, with the database conventions' attributes", async () => {
    const prefix = uniquePrefix("otel");
    const store = createSessionStore({ url: server.url, prefix, timeoutMs: 1000 });
    stores.push(store);
    await store.set("session-one", { user: "u1" });
    const loaded = await store.load("session-one");
    expect(await store.get("no-such-session")).toBeNull();
    await store.save("session-one", { user: "u1", cart: 1 }, { previous: loaded });
    await store.save("session-one", { user: "u1", theme: "dark" }, { previous: loaded }); // loses the CAS, merges

    const finished = spansOf(prefix);
    expect(finished.map((span) => [span.name, span.attributes["sessionbridge.outcome"]])).toEqual([
      ["sessionbridge set", "written"],
      ["sessionbridge get", "hit"],
      ["sessionbridge get", "miss"],
      ["sessionbridge save", "written"],
      ["sessionbridge save", "merged"],
    ]);
    const [set, , , , merged] = finished;
    expect(set?.kind).toBe(SpanKind.CLIENT);
    expect(set?.attributes).toMatchObject({ "db.system.name": "redis", "db.operation.name": "set" });
    expect(set?.attributes["sessionbridge.bytes"]).toBeGreaterThan(0);
    expect(merged?.attributes["sessionbridge.retries"]).toBe(1);
    // The node that served each operation: its role always, its address only with includeBackend.
    for (const span of finished) expect(span.attributes["sessionbridge.node.role"]).toBe("primary");
    // No host or port unless asked (includeBackend), no id, no data, no password.
    for (const span of finished) {
      const text = JSON.stringify({ name: span.name, attributes: span.attributes, events: span.events });
      expect(text).not.toContain(String(server.port));
      expect(text).not.toContain("session-one");
      expect(text).not.toContain(PASSWORD);
    }

    const metrics = (await reader.collect()).resourceMetrics;
    const durations = points(metrics, "db.client.operation.duration", { "sessionbridge.prefix": prefix, "db.operation.name": "get", "sessionbridge.outcome": "hit" });
    expect(durations).toHaveLength(1);
    expect((durations[0]?.value as { count: number }).count).toBe(1);
    const histogram = metrics.scopeMetrics.flatMap((scope) => scope.metrics).find((m) => m.descriptor.name === "db.client.operation.duration");
    expect(histogram?.dataPointType).toBe(DataPointType.HISTOGRAM);
    expect(histogram?.descriptor.unit).toBe("s");
    expect(await counter("sessionbridge.hits", { "sessionbridge.prefix": prefix })).toBe(1);
    expect(await counter("sessionbridge.misses", { "sessionbridge.prefix": prefix })).toBe(1);
    expect(await counter("sessionbridge.merges", { "sessionbridge.prefix": prefix })).toBe(1);
    expect(await counter("sessionbridge.conflicts", { "sessionbridge.prefix": prefix })).toBe(0);
  });

  it("records @sessionbridge/cache lookups by source, loader calls with their duration, write-throughs and invalidations", async () => {
    const prefix = uniquePrefix("otel-cache");
    const cache = createCache<{ id: number; name: string }>({ url: server.url, prefix, timeoutMs: 1000 });
    try {
      const rows = new Map([[1, { id: 1, name: "Teapot" }]]); // the application's data; the loader reads it
      let loaderCalls = 0;
      const load = async () => {
        loaderCalls++;
        return rows.get(1);
      };
      await Promise.all([cache.lookup("product:1", load), cache.lookup("product:1", load)]); // a miss and a joined
      await cache.lookup("product:1", load); // a hit
      await cache.set("product:1", { id: 1, name: "Kettle" }, { version: 2 });
      await cache.set("product:1", { id: 1, name: "Teapot" }, { version: 1 }); // older: not written
      await cache.invalidateTag("products");
      await cache.delete("product:1");
      expect(loaderCalls).toBe(1);

      const at = { "sessionbridge.prefix": prefix };
      expect(await counter("sessionbridge.cache.lookups", { ...at, "sessionbridge.outcome": "miss" })).toBe(1);
      expect(await counter("sessionbridge.cache.lookups", { ...at, "sessionbridge.outcome": "joined" })).toBe(1);
      expect(await counter("sessionbridge.cache.lookups", { ...at, "sessionbridge.outcome": "hit" })).toBe(1);
      expect(await counter("sessionbridge.cache.loads", { ...at, "sessionbridge.outcome": "found" })).toBe(1);
      expect(await counter("sessionbridge.cache.writes", { ...at, "sessionbridge.outcome": "written" })).toBe(1);
      expect(await counter("sessionbridge.cache.writes", { ...at, "sessionbridge.outcome": "older" })).toBe(1);
      expect(await counter("sessionbridge.cache.invalidations", { ...at, "db.operation.name": "invalidateTag" })).toBe(1);
      expect(await counter("sessionbridge.cache.invalidations", { ...at, "db.operation.name": "delete" })).toBe(1);
      const loadDurations = points((await reader.collect()).resourceMetrics, "sessionbridge.cache.load.duration", at);
      expect((loadDurations[0]?.value as { count: number }).count).toBe(1);
      // The store's own session counters are untouched by the cache.
      expect(await counter("sessionbridge.hits", at)).toBe(0);

      const finished = spansOf(prefix);
      expect(finished.map((span) => span.name)).toContain("sessionbridge cache.load");
      expect(finished.find((span) => span.name === "sessionbridge cache.lookup")?.attributes).toMatchObject({ "db.system.name": "redis", "db.operation.name": "lookup" });
      // The node of each operation on one key: its role (its address only with includeBackend); none for the loader or a joined lookup.
      expect(finished.map((span) => [span.name, span.attributes["sessionbridge.outcome"], span.attributes["sessionbridge.node.role"]])).toEqual(
        expect.arrayContaining([
          ["sessionbridge cache.lookup", "miss", "primary"],
          ["sessionbridge cache.lookup", "joined", undefined],
          ["sessionbridge cache.lookup", "hit", "primary"],
          ["sessionbridge cache.load", "found", undefined],
          ["sessionbridge cache.set", "written", "primary"],
          ["sessionbridge cache.set", "older", "primary"],
          ["sessionbridge cache.invalidateTag", undefined, "primary"],
          ["sessionbridge cache.delete", undefined, "primary"],
        ]),
      );
      for (const span of finished) {
        const text = JSON.stringify({ name: span.name, attributes: span.attributes });
        expect(text).not.toContain("product:1");
        expect(text).not.toContain("Teapot");
        expect(text).not.toContain(String(server.port));
      }
    } finally {
      await cache.close();
    }
  });

  it("records an outage (error spans, unavailable or timeout counts, the state gauge at 0) and the recovery", async () => {
    const prefix = uniquePrefix("otel");
    const store = createSessionStore({ url: server.url, prefix, timeoutMs: 400 });
    stores.push(store);
    await store.set("before", { a: 1 });
    const gauge = async () => points((await reader.collect()).resourceMetrics, "sessionbridge.backend.available", { "sessionbridge.prefix": prefix }).map((point) => point.value);
    expect(await gauge()).toEqual([1]);
    await server.stop();
    let failure;
    try {
      failure = await rejection(() => store.get("before"));
      expect(await gauge()).toEqual([0]);
    } finally {
      await server.restart();
    }
    const failed = spansOf(prefix).filter((span) => span.status.code === SpanStatusCode.ERROR);
    expect(failed).toHaveLength(1);
    expect(failed[0]?.attributes["error.type"]).toBe(failure.code);
    expect(failed[0]?.attributes["sessionbridge.outcome"]).toBeUndefined();
    const failures = (await counter("sessionbridge.unavailable", { "sessionbridge.prefix": prefix })) + (await counter("sessionbridge.timeouts", { "sessionbridge.prefix": prefix }));
    expect(failures).toBe(1);
    expect(await counter("sessionbridge.outages", { "sessionbridge.prefix": prefix })).toBe(1);

    await eventually("the store answers again", async () => (await store.get("after")) === null);
    expect(await gauge()).toEqual([1]);
    expect(await counter("sessionbridge.reconnects", { "sessionbridge.prefix": prefix })).toBe(1);
    expect(spansOf(prefix).at(-1)?.attributes).toMatchObject({ "sessionbridge.outcome": "miss" });
  });

  it("adds the backend's label only with includeBackend", async () => {
    const own = new InMemorySpanExporter();
    const labelled = registerSessionbridgeInstrumentation({ tracerProvider: new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter: own })] }), meterProvider, includeBackend: true });
    try {
      const store = createSessionStore({ url: server.url, prefix: uniquePrefix("otel"), timeoutMs: 1000 });
      stores.push(store);
      await store.get("anyone");
      expect(own.getFinishedSpans()[0]?.attributes).toMatchObject({
        "sessionbridge.backend": `redis 127.0.0.1:${server.port}`,
        "server.address": "127.0.0.1",
        "server.port": server.port,
        "sessionbridge.node.role": "primary",
      });
      const durations = points((await reader.collect()).resourceMetrics, "db.client.operation.duration", { "server.address": "127.0.0.1", "server.port": server.port });
      expect(durations.length).toBeGreaterThan(0);
    } finally {
      labelled.unregister();
    }
    expect(() => registerSessionbridgeInstrumentation({ includeBackend: "yes" as unknown as boolean })).toThrow(/includeBackend/);
  });
});

describe("memcached", () => {
  let server: MemcachedServer;
  beforeAll(async () => {
    server = await startMemcached();
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it("records reads, writes and a corrupt value with db.system.name memcached", async () => {
    const prefix = uniquePrefix("otel");
    const store = createSessionStore({ url: `memcached://${server.address}`, prefix, timeoutMs: 1000 });
    stores.push(store);
    await store.set("m1", { a: 1 });
    expect(await store.get("m1")).toEqual({ a: 1 });
    await store.backend.set(`${prefix}broken`, "not a session", 60_000);
    expect(await store.get("broken")).toBeNull();
    expect(spansOf(prefix).map((span) => [span.attributes["db.system.name"], span.attributes["db.operation.name"], span.attributes["sessionbridge.outcome"]])).toEqual([
      ["memcached", "set", "written"],
      ["memcached", "get", "hit"],
      ["memcached", "get", "corrupt"],
    ]);
    expect(await counter("sessionbridge.corrupt", { "sessionbridge.prefix": prefix, "db.system.name": "memcached" })).toBe(1);
  });
});
