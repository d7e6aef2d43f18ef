import type { ChildProcess } from "node:child_process";
import type { ScopeMetrics } from "@opentelemetry/sdk-metrics";
import type { ProcessMetrics } from "./process-metrics.js";

// The balancer asks an instance process for its metrics over the IPC channel fork() opened: instances
// need no metrics port of their own, and nothing but the balancer can ask.

interface MetricsRequest {
  type: "metrics";
  id: number;
}

interface MetricsReply {
  type: "metrics";
  id: number;
  scopeMetrics: ScopeMetrics[];
}

/** In the balancer's process: a `collect` that asks the child. Unanswered requests are dropped by the caller's timeout. */
export function metricsOverIpc(child: ChildProcess): () => Promise<ScopeMetrics[]> {
  let next = 0;
  const waiting = new Map<number, (scopeMetrics: ScopeMetrics[]) => void>();
  child.on("message", (message: Partial<MetricsReply>) => {
    if (message.type !== "metrics" || message.id === undefined || message.scopeMetrics === undefined) return;
    waiting.get(message.id)?.(message.scopeMetrics);
    waiting.delete(message.id);
  });
  child.once("exit", () => waiting.clear());
  return () =>
    new Promise<ScopeMetrics[]>((resolve, reject) => {
      if (!child.connected) return reject(new Error("the instance process is gone"));
      const id = ++next;
      waiting.set(id, resolve);
      // A request the child never answers stays here until the caller gives up; forget it after a while.
      setTimeout(() => waiting.delete(id), 10_000).unref();
      child.send({ type: "metrics", id } satisfies MetricsRequest, (error) => {
        if (error) {
          waiting.delete(id);
          reject(error);
        }
      });
    });
}

/** In an instance process: answers the balancer's requests with this process's metrics. */
export function answerMetricsOverIpc(metrics: ProcessMetrics): void {
  process.on("message", (message: Partial<MetricsRequest>) => {
    if (message.type !== "metrics" || message.id === undefined) return;
    const id = message.id;
    void metrics.collect().then(
      (scopeMetrics) => process.send?.({ type: "metrics", id, scopeMetrics } satisfies MetricsReply, undefined, {}, () => undefined),
      () => undefined, // not answered: the balancer leaves this instance out of that scrape
    );
  });
}
