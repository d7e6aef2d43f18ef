import type { Counter, Histogram, Meter } from "@opentelemetry/api";

/**
 * Bucket boundaries in seconds, as the database client conventions advise for
 * `db.client.operation.duration`; the cache's loader calls are database queries too, so they share them.
 */
const DURATION_BUCKETS_S = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10];

/** Event counters named `<prefix><name>` (`sessionbridge.hits`, `sessionbridge.cache.loads`, …). */
export function counterMaker(meter: Meter, prefix: string): (name: string, description: string) => Counter {
  return (name, description) => meter.createCounter(`${prefix}${name}`, { description, unit: "{event}" });
}

/** A histogram of durations in seconds with the database conventions' buckets. */
export function durationHistogram(meter: Meter, name: string, description: string): Histogram {
  return meter.createHistogram(name, { description, unit: "s", advice: { explicitBucketBoundaries: DURATION_BUCKETS_S } });
}
