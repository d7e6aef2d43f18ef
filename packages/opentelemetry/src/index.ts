import diagnosticsChannel from "node:diagnostics_channel";
import { performance } from "node:perf_hooks";
import { metrics, SpanKind, SpanStatusCode, trace, type Attributes, type MeterProvider, type Span, type TracerProvider } from "@opentelemetry/api";
import { AVAILABILITY_CHANNEL, CACHE_TRACING_CHANNELS, TRACING_CHANNELS, type AvailabilityMessage, type CacheOperationContext, type OperationContext } from "@sessionbridge/core";
import { ATTR, baseAttributes, errorType, operationAttributes, serverAttributes } from "./attributes.js";
import { CacheMetrics } from "./cache-metrics.js";
import { StoreMetrics } from "./metrics.js";

export { ATTR } from "./attributes.js";

export interface SessionbridgeInstrumentationOptions {
  /** Where spans go. Default: the global tracer provider (`trace.setGlobalTracerProvider`, or the SDK's). */
  tracerProvider?: TracerProvider;
  /** Where metrics go. Default: the global meter provider. */
  meterProvider?: MeterProvider;
  /**
   * Add the backend's label (`sessionbridge.backend`, e.g. `redis 10.0.0.5:6379`) and the address of the
   * node that served each operation (`server.address`, `server.port`) to spans and metric points. It names
   * hosts and ports (never credentials) and multiplies metric series per node. Default false.
   */
  includeBackend?: boolean;
}

export interface SessionbridgeInstrumentation {
  /** Stops listening; spans of operations still running are ended at once. */
  unregister(): void;
}

const NAME = "@sessionbridge/opentelemetry";

/**
 * Records a span and metric points for every operation of every sessionbridge store and
 * `@sessionbridge/cache` cache in the process, from the core's diagnostics_channel tracing channels:
 * nothing to change in the stores or caches themselves.
 *
 * ```js
 * import { registerSessionbridgeInstrumentation } from "@sessionbridge/opentelemetry";
 * registerSessionbridgeInstrumentation(); // after the OpenTelemetry SDK has been started
 * ```
 */
export function registerSessionbridgeInstrumentation(options: SessionbridgeInstrumentationOptions = {}): SessionbridgeInstrumentation {
  const withBackend = options.includeBackend ?? false;
  if (typeof withBackend !== "boolean") throw new TypeError(`@sessionbridge/opentelemetry: option "includeBackend" must be true or false (got ${typeof withBackend})`);
  const tracer = (options.tracerProvider ?? trace.getTracerProvider()).getTracer(NAME);
  const meter = (options.meterProvider ?? metrics.getMeterProvider()).getMeter(NAME);
  const storeMetrics = new StoreMetrics(meter, withBackend);
  const cacheMetrics = new CacheMetrics(meter);
  // A Map, not a WeakMap: unregister ends what is still open (contexts leave it when they finish).
  const running = new Map<OperationContext | CacheOperationContext, { span: Span; startedAt: number }>();

  const begin = (context: OperationContext | CacheOperationContext, name: string) => {
    const span = tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes: operationAttributes(context, withBackend) });
    running.set(context, { span, startedAt: performance.now() });
  };
  /** Ends the operation's span with its outcome or error; the seconds it took, or undefined when it started before we subscribed. */
  const finish = (context: OperationContext | CacheOperationContext, attributes: Attributes): number | undefined => {
    const entry = running.get(context);
    if (entry === undefined) return undefined;
    running.delete(context);
    const { span } = entry;
    span.setAttributes(attributes);
    if (context.error !== undefined) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: errorType(context.error) });
      // The message names the backend's host and port: only with includeBackend.
      if (withBackend && context.error instanceof Error) span.recordException(context.error);
    }
    span.end();
    return (performance.now() - entry.startedAt) / 1000;
  };

  /** Spans (and, through `ended`, metric points) for every operation on the channels `names`; returns what unsubscribes. */
  const listen = <C extends OperationContext | CacheOperationContext>(names: readonly string[], spanName: (context: C) => string, ended: (context: C) => void): (() => void) => {
    const handlers = { start: (context: C) => begin(context, spanName(context)), end() {}, asyncStart() {}, asyncEnd: ended, error() {} };
    const channels = names.map((name) => diagnosticsChannel.tracingChannel<unknown, C>(name));
    for (const channel of channels) channel.subscribe(handlers);
    return () => {
      for (const channel of channels) channel.unsubscribe(handlers);
    };
  };
  const stopStore = listen<OperationContext>(Object.values(TRACING_CHANNELS), (context) => `sessionbridge ${context.operation}`, (context) => {
    const attributes = { ...baseAttributes(context, withBackend), ...serverAttributes(context, withBackend) };
    if (context.bytes !== undefined) attributes[ATTR.bytes] = context.bytes;
    if (context.retries !== undefined) attributes[ATTR.retries] = context.retries;
    const seconds = finish(context, attributes);
    if (seconds !== undefined) storeMetrics.operation(context, seconds);
  });
  const stopCache = listen<CacheOperationContext>(Object.values(CACHE_TRACING_CHANNELS), (context) => `sessionbridge cache.${context.operation}`, (context) => {
    const attributes = baseAttributes(context, withBackend);
    const server = serverAttributes(context, withBackend);
    const seconds = finish(context, { ...attributes, ...server });
    // The node on metric points only with includeBackend, as for the store: per node, it multiplies the series.
    if (seconds !== undefined) cacheMetrics.operation(context, seconds, withBackend ? { ...attributes, ...server } : attributes);
  });
  const onAvailability = (message: unknown) => storeMetrics.availability(message as AvailabilityMessage);
  diagnosticsChannel.subscribe(AVAILABILITY_CHANNEL, onAvailability);

  let registered = true;
  return {
    unregister() {
      if (!registered) return;
      registered = false;
      stopStore();
      stopCache();
      diagnosticsChannel.unsubscribe(AVAILABILITY_CHANNEL, onAvailability);
      for (const { span } of running.values()) span.end();
      running.clear();
    },
  };
}
