import { createHash } from "node:crypto";
import { html, SafeHtml } from "../web/html.js";
import { STYLESHEET, STYLESHEET_HASH } from "../web/style.js";
import { PAGE_SCRIPT, PAGE_SCRIPT_HASH } from "./page-script.js";

const CHART_STYLE = `
main.wide { max-width:44rem; }
svg.chart { width:100%; height:auto; display:block; }
svg .grid { stroke:var(--line); stroke-width:1; }
svg .tick { fill:var(--muted); font-size:11px; }
svg .outage { fill:#fdecea; }
svg .failed { fill:var(--danger); }
svg .series { fill:none; stroke-width:2; stroke-linecap:round; stroke-linejoin:round; }
svg .get { stroke:var(--accent); } svg .save { stroke:var(--fastify); }
svg .p99 { stroke-dasharray:5 3; } svg .hitrate { stroke:var(--koa); }
.legend { display:flex; flex-wrap:wrap; gap:.25rem 1rem; font-size:.85rem; color:var(--muted); margin:.5rem 0 0; }
.key { display:inline-block; width:1.5rem; border-top:2px solid; vertical-align:middle; margin-right:.3rem; }
.key.get { border-color:var(--accent); } .key.save { border-color:var(--fastify); } .key.p99 { border-top-style:dashed; }
.key.hitrate { border-color:var(--koa); } .key.failed { border-top:.6rem solid var(--danger); width:.6rem; }
#store-state[data-state=unavailable] { background:#fdecea; color:var(--danger); }
#store-state { padding:.6rem .8rem; border-radius:.5rem; background:#e8f5ee; margin:.75rem 0; }
#store-state[data-state=unknown] { background:#eef2fb; color:var(--muted); }
`;
const CHART_STYLE_HASH = `'sha256-${createHash("sha256").update(CHART_STYLE).digest("base64")}'`;

/** The operations page's headers: as strict as the app's, plus its one script and its own requests. */
export const OPERATIONS_PAGE_CSP = `default-src 'none'; script-src ${PAGE_SCRIPT_HASH}; style-src ${STYLESHEET_HASH} ${CHART_STYLE_HASH}; connect-src 'self'; img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`;

export interface OperationsPageOptions {
  /** Scrape interval of the history, in milliseconds (the page polls at the same pace). */
  intervalMs: number;
  windowMs: number;
  /** `redis`, `memcached`, `memory`: never the backend's address. */
  system: string;
  /** Guards the two forms (the demo has no login for its operator). */
  token: string;
  visitorsOn: boolean;
  /** Set when the demo started its own redis-server and so may pause it. */
  pauseMs: number | undefined;
}

export function operationsPage(options: OperationsPageOptions): string {
  const seconds = (ms: number) => (ms < 1000 ? `${ms} ms` : `${Math.round(ms / 1000)} s`);
  const token = html`<input type="hidden" name="token" value="${options.token}">`;
  return `<!doctype html>${html`<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Operations · sessionbridge demo</title>
<link rel="icon" href="data:,">
<style>${new SafeHtml(STYLESHEET)}</style><style>${new SafeHtml(CHART_STYLE)}</style></head>
<body>
<header><a class="brand" href="/">sessionbridge demo</a><nav><a href="/">Home</a><a href="/metrics">Metrics (Prometheus)</a></nav></header>
<main class="wide" id="operations" data-series="/operations/series.json" data-interval-ms="${options.intervalMs}">
<div class="card"><h1>Operations</h1>
<p>What the session store (${options.system}) does for every instance, from the OpenTelemetry metrics the instances record
(<code>@sessionbridge/opentelemetry</code>) and serve at <a href="/metrics">/metrics</a>: one scrape every ${seconds(options.intervalMs)}, the last ${Math.round(options.windowMs / 60_000)} minutes.</p>
<p id="store-state" data-state="unknown" role="status">Waiting for the first scrape…</p>
<div class="actions">
<form method="post" action="/operations/visitors">${token}<input type="hidden" name="on" value="${options.visitorsOn ? "0" : "1"}">
<button class="quiet" type="submit" id="visitors-toggle">${options.visitorsOn ? "Stop the simulated visitors" : "Start simulated visitors"}</button></form>
${
  options.pauseMs === undefined
    ? ""
    : html`<form method="post" action="/operations/pause">${token}<button class="danger" type="submit" id="pause-redis">Pause Redis for ${seconds(options.pauseMs)}</button></form>`
}
</div>
<p class="muted">Simulated visitors: <span id="visitors-state" data-on="${options.visitorsOn}">${options.visitorsOn ? "on" : "off"}</span> (three cookie-holding clients reload the home page).
${options.pauseMs === undefined ? "Pausing is offered only for the private redis-server the demo starts itself." : html`<span id="pause-state"></span>`}</p></div>
<div class="card"><h2>Latency of session reads and writes</h2>
<svg class="chart" id="latency-chart" viewBox="0 0 640 220" role="img" aria-label="p50 and p99 latency of get and save over the last minutes, logarithmic scale"></svg>
<p class="legend"><span><i class="key get"></i>get p50</span><span><i class="key get p99"></i>get p99</span><span><i class="key save"></i>save p50</span><span><i class="key save p99"></i>save p99</span><span>red band: failed operations</span></p></div>
<div class="card"><h2>Hit rate and failed operations</h2>
<svg class="chart" id="hits-chart" viewBox="0 0 640 220" role="img" aria-label="share of session reads that found their session, and failed operations per interval"></svg>
<p class="legend"><span><i class="key hitrate"></i>hit rate (reads that found their session)</span><span><i class="key failed"></i>failed operations (UNAVAILABLE, TIMEOUT)</span></p></div>
<div class="card"><h2>Last interval</h2><table>
<tr><th>operations</th><td id="now-rate">—</td></tr>
<tr><th>get p50 / p99</th><td id="now-get">—</td></tr>
<tr><th>save p50 / p99</th><td id="now-save">—</td></tr>
<tr><th>hit rate</th><td id="now-hitrate">—</td></tr>
<tr><th>failed operations (window)</th><td id="failures-total">0</td></tr></table></div>
</main>
<footer><p>Prometheus: scrape <code>/metrics</code> on this address; every series carries <code>service_instance_id</code> (and <code>demo_framework</code>).</p></footer>
<script>${new SafeHtml(PAGE_SCRIPT)}</script>
</body></html>`}`;
}
