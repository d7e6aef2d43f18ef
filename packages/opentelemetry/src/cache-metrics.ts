import type { Attributes, Counter, Histogram, Meter } from "@opentelemetry/api";
import type { CacheOperationContext } from "@sessionbridge/core";
import { counterMaker, durationHistogram } from "./instruments.js";

/**
 * `@sessionbridge/cache`'s metrics, from its `sessionbridge:cache.<operation>` tracing channels: lookups
 * by where the value came from (a hit rate is `hit` + `local` over all), loader calls (what the cache
 * cost the database) and their duration, write-through outcomes, deletions and tag invalidations.
 */
export class CacheMetrics {
  private readonly lookups: Counter;
  private readonly loads: Counter;
  private readonly loadDuration: Histogram;
  private readonly writes: Counter;
  private readonly invalidations: Counter;

  constructor(meter: Meter) {
    const counter = counterMaker(meter, "sessionbridge.cache.");
    this.lookups = counter("lookups", "Cache reads (getOrLoad, lookup), by sessionbridge.outcome: hit, local, stale, grace, miss, joined, waited, bypass");
    this.loads = counter("loads", "Loader calls (one database read per miss), by sessionbridge.outcome found / notFound, or error.type");
    this.loadDuration = durationHistogram(meter, "sessionbridge.cache.load.duration", "Duration of loader calls");
    this.writes = counter("writes", "Write-throughs (set, each entry of setMany), by sessionbridge.outcome: written, older, unavailable");
    this.invalidations = counter("invalidations", "Deletions and tag invalidations, by db.operation.name: delete, invalidateTag");
  }

  /** `attributes`: the operation's (see baseAttributes: system, operation, prefix, outcome or error type). */
  operation(context: CacheOperationContext, seconds: number, attributes: Attributes): void {
    switch (context.operation) {
      case "lookup":
        this.lookups.add(1, attributes);
        break;
      case "load":
        this.loads.add(1, attributes);
        this.loadDuration.record(seconds, attributes);
        break;
      case "set":
        this.writes.add(1, attributes);
        break;
      case "delete":
      case "invalidateTag":
        this.invalidations.add(1, attributes);
        break;
    }
  }
}
