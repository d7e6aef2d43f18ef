import type { FailureResult } from "./failure.js";
import { HUNG_AFTER_MS } from "./failure.js";
import { WORKLOADS, type Workload } from "./matrix.js";
import type { HttpLine, StoreLine, Target } from "./summary.js";

export interface ReportInput {
  startedAt: string;
  environment: Record<string, unknown>;
  settings: { rounds: number; readSeconds: number; otherSeconds: number; connections: number; users: number; countRequests: number; timeoutMs: number };
  http: HttpLine[];
  store: StoreLine[];
  failures: FailureResult[];
  targets: Target[];
  /** Issue 12: CPU per request against the incumbents (summary.ts checkCpuTargets). */
  cpuTargets: Target[];
}

const fmt = (n: number) => n.toLocaleString("en-US");
const icon = { pass: "✅ pass", fail: "❌ fail", "not measured": "⚠️ not measured" } as const;

/** The Markdown report (bench/results/latest.md); docs/benchmarks.md explains the method. */
export function markdownReport(input: ReportInput): string {
  const env = input.environment;
  const s = input.settings;
  const out: string[] = [];
  out.push(`# sessionbridge benchmark results`, "");
  out.push(
    `Run ${input.startedAt} at commit \`${String(env.commit)}\`: Node ${String(env.node)}, redis-server ${String(env.redisServer)}, memcached ${String(env.memcached)}, ${String(env.cpus)} × ${String(env.cpuModel)}, load average at start ${JSON.stringify(env.loadAverageAtStart)}.`,
    `autocannon, ${s.connections} connections, ${s.rounds} alternated rounds per configuration (${s.readSeconds} s read-mostly, ${s.otherSeconds} s other workloads), medians shown; spread = (max − min) / median of the rounds. ${s.users} logged-in users per app, ~320-byte session. Commands per request: server counters around exactly ${s.countRequests} requests. Store timeoutMs ${s.timeoutMs}.`,
    `The machine is shared and noisy (2 cores, other work running): read ratios within ±10 % as ties.`,
    "",
  );
  out.push(`## Targets (issue 12: CPU per request, ours ÷ incumbent, same-round median)`, "", `| target | result | measured |`, `|---|---|---|`);
  for (const t of input.cpuTargets) out.push(`| ${t.name} | ${icon[t.status]} | ${t.measured} |`);
  out.push("");
  out.push(`## Targets (issue 7 §2)`, "", `| target | result | measured |`, `|---|---|---|`);
  for (const t of input.targets) out.push(`| ${t.name} | ${icon[t.status]} | ${t.measured} |`);
  out.push("");
  for (const workload of Object.keys(WORKLOADS) as Workload[]) {
    const lines = input.http.filter((l) => l.workload === workload);
    if (lines.length === 0) continue;
    out.push(`## HTTP: ${WORKLOADS[workload].title}`, "");
    out.push(`| framework | store | req/s | spread | p50 ms | p99 ms | CPU µs/req app · backend | CPU ÷ incumbent, same round: app · backend | backend round trips / request | req/s vs incumbent | vs zero-cost | notes |`);
    out.push(`|---|---|---:|---:|---:|---:|---:|---|---|---|---:|---|`);
    for (const l of lines) {
      const notes = [l.failure ? `not run: ${l.failure}` : "", l.non2xx ? `${fmt(l.non2xx)} non-2xx` : "", l.errors ? `${fmt(l.errors)} errors` : ""].filter(Boolean).join("; ");
      const inScripts = l.serverCommands !== null && l.commands !== null && l.serverCommands !== l.commands ? `; server runs ${l.serverCommands} (${l.serverCommandBreakdown}) counting script internals` : "";
      const commands = l.commands === null ? "—" : `${l.commands} (${l.commandBreakdown || "none"})${inScripts}`;
      const versus = l.vsIncumbents.map((v) => `${v.ratio}× ${v.label}`).join("<br>");
      const cpuVersus = l.cpuVsIncumbents.map((v) => `${v.app ?? "—"}× · ${v.backend ?? "—"}× ${v.label}`).join("<br>");
      const measured = l.rounds > 0;
      out.push(
        `| ${l.framework} | ${l.role === "ours" ? `**${l.label}**` : l.label} | ${measured ? fmt(l.rps) : "—"} | ${measured ? `${Math.round(l.spread * 100)} %` : "—"} | ${measured ? l.p50Ms : "—"} | ${measured ? l.p99Ms : "—"} | ${l.appCpuUs ?? "—"} · ${l.backendCpuUs ?? "—"} | ${cpuVersus} | ${commands} | ${versus} | ${l.vsZeroCost === null ? "" : `${l.vsZeroCost}×`} | ${notes} |`,
      );
    }
    out.push("");
  }
  if (input.store.length > 0) {
    out.push(`## Store level (one connection, ${s.connections} operations in flight)`, "");
    out.push(`| operation | ops/s | spread | p50 ms | p99 ms | CPU µs/op client · redis | vs raw ioredis |`, `|---|---:|---:|---:|---:|---:|---|`);
    for (const l of input.store) {
      if (l.failure && l.opsPerSec === 0) {
        out.push(`| ${l.name} | — | — | — | — | — | not run: ${l.failure} |`);
        continue;
      }
      out.push(`| ${l.name} | ${fmt(l.opsPerSec)} | ${Math.round(l.spread * 100)} % | ${l.p50Ms} | ${l.p99Ms} | ${l.clientCpuUs ?? "—"} · ${l.serverCpuUs ?? "—"} | ${l.ratio === null ? "" : `${l.ratio}× ${l.baseline ?? ""}`} |`);
    }
    out.push("");
  }
  if (input.failures.length > 0) {
    out.push(`## Redis stopped (${s.timeoutMs} ms store deadline; a request unanswered after ${HUNG_AFTER_MS} ms counts as hung)`, "");
    out.push(`| configuration | requests | answered within ${s.timeoutMs + 100} ms | hung | slowest answer ms | answers | recovered after Redis returned |`, `|---|---:|---:|---:|---:|---|---|`);
    for (const f of input.failures) {
      if (f.failure) {
        out.push(`| ${f.rowId} | — | — | — | — | not run: ${f.failure} | |`);
        continue;
      }
      const answers = Object.entries(f.statuses).map(([status, n]) => `${n}× ${status}`).join(", ");
      out.push(`| ${f.rowId} (${f.label}) | ${f.requests} | ${f.withinLimit} | ${f.hung} | ${f.maxAnsweredMs ?? "—"} | ${answers} | ${f.recoveryMs === null ? "not within 30 s" : `${f.recoveryMs} ms`} |`);
    }
    out.push("");
  }
  const packages = (env.packages ?? {}) as Record<string, string>;
  out.push(`## Versions`, "", Object.entries(packages).map(([name, version]) => `${name} ${version}`).join(" · "), "");
  return out.join("\n");
}
