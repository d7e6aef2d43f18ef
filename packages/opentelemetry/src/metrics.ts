import type { Attributes, Counter, Histogram, Meter } from "@opentelemetry/api";
import type { AvailabilityMessage, OperationContext } from "@sessionbridge/core";
import { ATTR, baseAttributes, serverAttributes } from "./attributes.js";

/** Bucket boundaries in seconds, as the database client conventions advise for `db.client.operation.duration`. */
const DURATION_BUCKETS_S = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10];

/** The instruments, created once per registration from the meter. */
export class StoreMetrics {
  private readonly duration: Histogram;
  private readonly counters: Record<"hits" | "misses" | "expirations" | "corrupt" | "conflicts" | "merges" | "timeouts" | "unavailable" | "outages" | "reconnects", Counter>;
  /** Availability per store (backend label + prefix): 1 answering, 0 not. */
  private readonly state = new Map<string, { value: number; attributes: Attributes }>();

  constructor(
    meter: Meter,
    private readonly withBackend: boolean,
  ) {
    this.duration = meter.createHistogram("db.client.operation.duration", {
      description: "Duration of sessionbridge store operations (each may be several backend commands)",
      unit: "s",
      advice: { explicitBucketBoundaries: DURATION_BUCKETS_S },
    });
    const counter = (name: string, description: string) => meter.createCounter(`sessionbridge.${name}`, { description, unit: "{event}" });
    this.counters = {
      hits: counter("hits", "Reads (get, touch) that found a live session"),
      misses: counter("misses", "Reads that found no session"),
      expirations: counter("expirations", "Reads that found a session past its absolute lifetime or lazy-touch expiry (deleted)"),
      corrupt: counter("corrupt", "Reads of a stored value that did not decode or decrypt (answered as no session)"),
      conflicts: counter("conflicts", "Fields a save changed that a concurrent request had changed too (the later write won)"),
      merges: counter("merges", "Saves that lost a compare-and-set and were written after merging a concurrent change"),
      timeouts: counter("timeouts", "Operations that failed with TIMEOUT (the deadline timeoutMs passed)"),
      unavailable: counter("unavailable", "Operations that failed with UNAVAILABLE (backend unreachable)"),
      outages: counter("outages", "Times a store's backend became unreachable (the 'unavailable' event)"),
      reconnects: counter("reconnects", "Times a store's backend answered again after an outage (the 'available' event; failovers show here)"),
    };
    meter
      .createObservableGauge("sessionbridge.backend.available", { description: "1 while a store's backend answers, 0 during an outage", unit: "1" })
      .addCallback((result) => {
        for (const { value, attributes } of this.state.values()) result.observe(value, attributes);
      });
  }

  operation(context: OperationContext, seconds: number): void {
    // The node (role, server.address / server.port) only with includeBackend: per node, it multiplies the series.
    const attributes = this.withBackend ? { ...baseAttributes(context, true), ...serverAttributes(context, true) } : baseAttributes(context, false);
    this.duration.record(seconds, attributes);
    this.known(context);
    const common: Attributes = { [ATTR.system]: context.system, [ATTR.operation]: context.operation, [ATTR.prefix]: context.prefix };
    if (this.withBackend) common[ATTR.backend] = context.backend;
    switch (context.outcome) {
      case "hit":
        if (context.operation === "get" || context.operation === "touch") this.counters.hits.add(1, common);
        break;
      case "miss":
        if (context.operation === "get" || context.operation === "touch") this.counters.misses.add(1, common);
        break;
      case "expired":
        this.counters.expirations.add(1, common);
        break;
      case "corrupt":
        this.counters.corrupt.add(1, common);
        break;
      case "merged":
        this.counters.merges.add(1, common);
        break;
    }
    if (context.conflicts !== undefined && context.conflicts > 0) this.counters.conflicts.add(context.conflicts, common);
    const code = (context.error as { code?: unknown } | undefined)?.code;
    if (code === "TIMEOUT") this.counters.timeouts.add(1, common);
    else if (code === "UNAVAILABLE") this.counters.unavailable.add(1, common);
  }

  availability(message: AvailabilityMessage): void {
    const attributes: Attributes = { [ATTR.system]: message.system, [ATTR.prefix]: message.prefix };
    if (this.withBackend) attributes[ATTR.backend] = message.backend;
    this.state.set(`${message.backend}\u0000${message.prefix}`, { value: message.available ? 1 : 0, attributes });
    (message.available ? this.counters.reconnects : this.counters.outages).add(1, attributes);
  }

  /** A store seen working for the first time counts as available until it says otherwise. */
  private known(context: OperationContext): void {
    const id = `${context.backend}\u0000${context.prefix}`;
    if (context.error !== undefined || this.state.has(id)) return;
    const attributes: Attributes = { [ATTR.system]: context.system, [ATTR.prefix]: context.prefix };
    if (this.withBackend) attributes[ATTR.backend] = context.backend;
    this.state.set(id, { value: 1, attributes });
  }
}
