import { PrometheusSerializer } from "@opentelemetry/exporter-prometheus";
import { resourceFromAttributes } from "@opentelemetry/resources";
import type { ScopeMetrics } from "@opentelemetry/sdk-metrics";

/** One process's metrics, as the balancer reaches them (over IPC, or in this very process). */
export interface MetricsSource {
  /** Goes on every series as `service_instance_id` (OpenTelemetry's name for "which process"). */
  instance: string;
  /** Goes on every series as `demo_framework`; unset when the source serves several frameworks. */
  framework?: string;
  collect(): Promise<ScopeMetrics[]>;
}

export interface SourceMetrics {
  instance: string;
  scopeMetrics: ScopeMetrics[];
}

/** How long a scrape waits for one instance; one that does not answer is left out of that scrape. */
export const COLLECT_TIMEOUT_MS = 1000;

/** Every source's current metrics, each data point labelled with its instance (and framework). */
export async function collectFleet(sources: readonly MetricsSource[]): Promise<SourceMetrics[]> {
  const settled = await Promise.allSettled(sources.map((source) => withTimeout(source.collect(), COLLECT_TIMEOUT_MS).then((scopeMetrics) => ({ source, scopeMetrics }))));
  const out: SourceMetrics[] = [];
  for (const result of settled) {
    if (result.status === "rejected") continue;
    const { source, scopeMetrics } = result.value;
    const labels = { "service.instance.id": source.instance, ...(source.framework === undefined ? {} : { "demo.framework": source.framework }) };
    for (const scope of scopeMetrics) for (const metric of scope.metrics) for (const point of metric.dataPoints) (point as { attributes: object }).attributes = { ...point.attributes, ...labels };
    out.push({ instance: source.instance, scopeMetrics });
  }
  return out;
}

const serializer = new PrometheusSerializer();
const resource = resourceFromAttributes({ "service.name": "sessionbridge-demo" });

/**
 * The fleet in Prometheus text format, through the official exporter's serializer: one family per
 * metric (the format requires a metric's lines together), each series labelled by instance. Prometheus
 * scrapes the balancer as one target; `sum without (service_instance_id, demo_framework)` gives the
 * service as a whole.
 */
export function prometheusText(fleet: readonly SourceMetrics[]): string {
  return serializer.serialize({ resource, scopeMetrics: fleet.flatMap((source) => source.scopeMetrics) });
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
