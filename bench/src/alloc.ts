// Bytes allocated per request, by the function that allocated them: V8's sampling heap profiler with the
// objects garbage collection already took counted too (Node's `--heap-prof` keeps only the live ones,
// which says nothing about a request's garbage). Used by `core-cost --alloc` (in process) and by
// `profile … --alloc` (inside an app process, apps/main.ts).
import { Session } from "node:inspector/promises";

export interface SamplingNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: SamplingNode[];
}

export interface Allocations {
  bytesPerRequest: number;
  /** The functions that allocated the most, "name file:line" with bytes per request, largest first. */
  top: Array<[string, number]>;
}

/** Starts sampling this process's allocations; the returned function stops and hands back the profile's root. */
export async function startAllocationSampling(): Promise<() => Promise<SamplingNode>> {
  const session = new Session();
  session.connect();
  await session.post("HeapProfiler.enable");
  // An interval of 4 KiB: a few samples per request, and the profiler's own cost stays small.
  await session.post("HeapProfiler.startSampling", { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  return async () => {
    try {
      const { profile } = (await session.post("HeapProfiler.stopSampling")) as unknown as { profile: { head: SamplingNode } };
      return profile.head;
    } finally {
      session.disconnect();
    }
  };
}

/** Bytes per request of a sampled profile, and the `topCount` functions that allocated the most. */
export function allocationsOf(head: SamplingNode, requests: number, topCount: number): Allocations {
  const byFunction = new Map<string, number>();
  let total = 0;
  const walk = (node: SamplingNode): void => {
    if (node.selfSize > 0) {
      const { functionName, url, lineNumber } = node.callFrame;
      const where = `${functionName || "(anonymous)"} ${url.replace(/^.*\/node_modules\//, "").replace(/^.*\/(packages|bench)\//, "$1/")}:${lineNumber + 1}`;
      byFunction.set(where, (byFunction.get(where) ?? 0) + node.selfSize);
      total += node.selfSize;
    }
    for (const child of node.children) walk(child);
  };
  walk(head);
  const top = [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, topCount).map(([where, bytes]): [string, number] => [where, bytes / requests]);
  return { bytesPerRequest: total / requests, top };
}

/** The `--top=N` option of the tools that print allocations (core-cost, profile). */
export function topCountOption(args: readonly string[], fallback: number): number {
  return Number(args.find((arg) => arg.startsWith("--top="))?.slice(6) ?? fallback);
}

/** The functions that allocated the most, one line each, `indent` before. */
export function formatTop(found: Allocations, indent: string): string {
  return found.top.map(([where, bytes]) => `${indent}${bytes.toFixed(0).padStart(6)} B  ${where}\n`).join("");
}

/** Runs `work` (which makes `requests` requests) under the sampling heap profiler. */
export async function allocationsPerRequest(work: () => Promise<void>, requests: number, topCount = 12): Promise<Allocations> {
  const stop = await startAllocationSampling();
  let head: SamplingNode;
  try {
    await work();
  } finally {
    head = await stop();
  }
  return allocationsOf(head, requests, topCount);
}
