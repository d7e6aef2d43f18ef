import { DataPointType, type ScopeMetrics } from "@opentelemetry/sdk-metrics";
import type { SourceMetrics } from "./fleet-metrics.js";

/** Latency of one store operation over one interval. */
export interface OperationLatency {
  /** Operations finished in the interval. */
  count: number;
  /** Estimated from the histogram's buckets like Prometheus's histogram_quantile (linear within a bucket). */
  p50Ms: number | null;
  p99Ms: number | null;
}

/** What the fleet's stores did in one interval (the difference of two cumulative scrapes). */
export interface OperationsPoint {
  /** End of the interval, epoch ms. */
  t: number;
  /** Per store operation (`get`, `save`, `touch`, …). */
  ops: Record<string, OperationLatency>;
  hits: number;
  misses: number;
  /** `hits / (hits + misses)`, null without reads. */
  hitRate: number | null;
  /** Operations that failed with UNAVAILABLE or TIMEOUT. */
  failures: number;
  /** false while any instance's store reports its backend unavailable, null before any store was used. */
  available: boolean | null;
}

/** One source's cumulative counters at one scrape. */
interface Totals {
  durations: Map<string, { boundaries: number[]; counts: number[] }>;
  hits: number;
  misses: number;
  failures: number;
  available: number[];
}

interface HistogramPointValue {
  buckets: { boundaries: number[]; counts: number[] };
}

function totalsOf(scopeMetrics: readonly ScopeMetrics[]): Totals {
  const totals: Totals = { durations: new Map(), hits: 0, misses: 0, failures: 0, available: [] };
  for (const metric of scopeMetrics.flatMap((scope) => scope.metrics)) {
    const name = metric.descriptor.name;
    if (name === "db.client.operation.duration" && metric.dataPointType === DataPointType.HISTOGRAM) {
      for (const point of metric.dataPoints) {
        const operation = String(point.attributes["db.operation.name"]);
        const { boundaries, counts } = (point.value as HistogramPointValue).buckets;
        const sum = totals.durations.get(operation) ?? { boundaries, counts: counts.map(() => 0) };
        counts.forEach((count, i) => (sum.counts[i] = (sum.counts[i] ?? 0) + count));
        totals.durations.set(operation, sum);
      }
      continue;
    }
    const sum = (metric.dataPoints as Array<{ value: unknown }>).reduce((total, point) => total + (typeof point.value === "number" ? point.value : 0), 0);
    if (name === "sessionbridge.hits") totals.hits += sum;
    else if (name === "sessionbridge.misses") totals.misses += sum;
    else if (name === "sessionbridge.unavailable" || name === "sessionbridge.timeouts") totals.failures += sum;
    else if (name === "sessionbridge.backend.available") for (const point of metric.dataPoints as Array<{ value: unknown }>) totals.available.push(Number(point.value));
  }
  return totals;
}

/** The q-quantile (0…1) of a bucketed histogram, in the boundaries' unit; null when it is empty. */
export function quantile(q: number, boundaries: readonly number[], counts: readonly number[]): number | null {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = q * total;
  let seen = 0;
  for (const [i, count] of counts.entries()) {
    if (count === 0 || seen + count < rank) {
      seen += count;
      continue;
    }
    // The +Inf bucket has no upper bound: answer its lower one, as histogram_quantile does.
    if (i >= boundaries.length) return boundaries.at(-1) ?? null;
    const lower = i === 0 ? 0 : (boundaries[i - 1] as number);
    return lower + ((boundaries[i] as number) - lower) * ((rank - seen) / count);
  }
  return boundaries.at(-1) ?? null;
}

/**
 * The last `capacity` intervals of the fleet's store operations, for the operations page: each
 * `record` takes a scrape of every instance (cumulative, as Prometheus sees it) and keeps what changed
 * since the previous one, instance by instance (an instance missing from one scrape counts in the next).
 */
export class OperationsHistory {
  private readonly previous = new Map<string, Totals>();
  private readonly points: OperationsPoint[] = [];

  constructor(private readonly capacity: number) {}

  record(fleet: readonly SourceMetrics[], now = Date.now()): OperationsPoint {
    const point: OperationsPoint = { t: now, ops: {}, hits: 0, misses: 0, hitRate: null, failures: 0, available: null };
    const buckets = new Map<string, { boundaries: number[]; counts: number[] }>();
    for (const source of fleet) {
      const current = totalsOf(source.scopeMetrics);
      const before = this.previous.get(source.instance);
      this.previous.set(source.instance, current);
      for (const value of current.available) point.available = (point.available ?? true) && value === 1;
      if (before === undefined) continue; // its first scrape: nothing to compare with yet
      // max(0, …): a restarted instance starts its counters again.
      point.hits += Math.max(0, current.hits - before.hits);
      point.misses += Math.max(0, current.misses - before.misses);
      point.failures += Math.max(0, current.failures - before.failures);
      for (const [operation, { boundaries, counts }] of current.durations) {
        const old = before.durations.get(operation)?.counts ?? [];
        const sum = buckets.get(operation) ?? { boundaries, counts: counts.map(() => 0) };
        counts.forEach((count, i) => (sum.counts[i] = (sum.counts[i] ?? 0) + Math.max(0, count - (old[i] ?? 0))));
        buckets.set(operation, sum);
      }
    }
    for (const [operation, { boundaries, counts }] of buckets) {
      const count = counts.reduce((a, b) => a + b, 0);
      if (count === 0) continue;
      const ms = (seconds: number | null) => (seconds === null ? null : Math.round(seconds * 1e6) / 1e3);
      point.ops[operation] = { count, p50Ms: ms(quantile(0.5, boundaries, counts)), p99Ms: ms(quantile(0.99, boundaries, counts)) };
    }
    const reads = point.hits + point.misses;
    point.hitRate = reads === 0 ? null : point.hits / reads;
    this.points.push(point);
    if (this.points.length > this.capacity) this.points.shift();
    return point;
  }

  snapshot(): OperationsPoint[] {
    return [...this.points];
  }
}
