import { PrometheusExporter } from "@opentelemetry/exporter-prometheus";
import { AggregationType, MeterProvider, type ScopeMetrics } from "@opentelemetry/sdk-metrics";
import { registerSessionbridgeInstrumentation } from "@sessionbridge/opentelemetry";

/**
 * Finer buckets than the package's (1 ms … 10 s, the database conventions' advice) for the demo's
 * loopback Redis, whose operations take a fraction of a millisecond: with them the operations page can
 * tell 0.2 ms from 0.8 ms (and 1.25 s keeps operations that fail at the default 1 s deadline apart from
 * slower ones). A View is how any OpenTelemetry user would change them.
 */
export const DEMO_DURATION_BUCKETS_S = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 1.25, 2.5, 5, 10];

/** The metrics of this process's sessionbridge stores, read on demand (pull, as Prometheus does). */
export interface ProcessMetrics {
  /** The current cumulative metric data, as plain JSON (it crosses the IPC channel to the balancer). */
  collect(): Promise<ScopeMetrics[]>;
  close(): Promise<void>;
}

/**
 * Registers @sessionbridge/opentelemetry with a MeterProvider whose reader is the official Prometheus
 * exporter. The exporter's own HTTP server is not started: an instance listens on a loopback port
 * behind the balancer, which serves the whole fleet's metrics on one `/metrics` (see fleet-metrics.ts).
 * One per process: the tracing channels are process-wide, so a second registration would count every
 * operation twice.
 */
export function startProcessMetrics(): ProcessMetrics {
  const exporter = new PrometheusExporter({ preventServerStart: true });
  const meterProvider = new MeterProvider({
    readers: [exporter],
    views: [{ instrumentName: "db.client.operation.duration", aggregation: { type: AggregationType.EXPLICIT_BUCKET_HISTOGRAM, options: { boundaries: DEMO_DURATION_BUCKETS_S } } }],
  });
  const instrumentation = registerSessionbridgeInstrumentation({ meterProvider });
  return {
    async collect() {
      const { resourceMetrics } = await exporter.collect();
      // Plain data only (hrtime arrays, numbers, strings): what JSON and the IPC channel carry.
      return JSON.parse(JSON.stringify(resourceMetrics.scopeMetrics)) as ScopeMetrics[];
    },
    async close() {
      instrumentation.unregister();
      await meterProvider.shutdown();
    },
  };
}
