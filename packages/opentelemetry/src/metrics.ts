import type { Attributes, Counter, Histogram, Meter } from "@opentelemetry/api";
import type { AvailabilityMessage, OperationContext } from "@sessionbridge/core";
import { ATTR, baseAttributes, operationAttributes, serverAttributes } from "./attributes.js";
import { counterMaker, durationHistogram } from "./instruments.js";

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
    this.duration = durationHistogram(meter, "db.client.operation.duration", "Duration of sessionbridge store operations (each may be several backend commands)");
    const counter = counterMaker(meter, "sessionbridge.");
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
    const common = operationAttributes(context, this.withBackend);
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
    const attributes = this.storeAttributes(message);
    this.state.set(`${message.backend}\u0000${message.prefix}`, { value: message.available ? 1 : 0, attributes });
    (message.available ? this.counters.reconnects : this.counters.outages).add(1, attributes);
  }

  /** A store seen working for the first time counts as available until it says otherwise. */
  private known(context: OperationContext): void {
    const id = `${context.backend}\u0000${context.prefix}`;
    if (context.error !== undefined || this.state.has(id)) return;
    this.state.set(id, { value: 1, attributes: this.storeAttributes(context) });
  }

  /** A store's attributes (the availability gauge and counters): system, prefix, and its backend's label with includeBackend. */
  private storeAttributes(store: Pick<OperationContext, "system" | "prefix" | "backend">): Attributes {
    const attributes: Attributes = { [ATTR.system]: store.system, [ATTR.prefix]: store.prefix };
    if (this.withBackend) attributes[ATTR.backend] = store.backend;
    return attributes;
  }
}
