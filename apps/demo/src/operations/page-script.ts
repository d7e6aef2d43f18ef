import { createHash } from "node:crypto";

// The operations page's only script (inline, allowed by its hash): polls /operations/series.json and
// draws two small SVG charts by hand. No library and no CDN: the demo runs where the network is closed.
export const PAGE_SCRIPT = `
"use strict";
const NS = "http://www.w3.org/2000/svg";
const W = 640, H = 220, L = 60, R = 24, T = 10, B = 24;
const root = document.getElementById("operations");
const seriesUrl = root.dataset.series;

function node(name, attrs, text) {
  const el = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

function frame(svg, data) {
  svg.replaceChildren();
  const now = data.points.length ? data.points[data.points.length - 1].t : Date.now();
  // The span grows with the history (at least a minute) up to the window: a fresh demo is not a sliver.
  const first = data.points.length ? data.points[0].t : now;
  const span = Math.min(data.windowMs, Math.max(60000, now - first + data.intervalMs));
  const x = (t) => L + ((t - (now - span)) / span) * (W - L - R);
  const tick = [10000, 15000, 30000, 60000].find((s) => span / s <= 6);
  for (let ago = 0; ago <= span; ago += tick) {
    const at = x(now - ago);
    svg.append(node("line", { x1: at, x2: at, y1: T, y2: H - B, class: "grid" }));
    const label = ago === 0 ? "now" : ago % 60000 === 0 ? "-" + ago / 60000 + " min" : "-" + ago / 1000 + " s";
    svg.append(node("text", { x: at, y: H - 6, class: "tick", "text-anchor": ago === span ? "start" : "middle" }, label));
  }
  // Intervals with failed operations or an unavailable store: a red band behind the lines.
  const step = (data.intervalMs / span) * (W - L - R);
  for (const p of data.points) {
    if (p.failures > 0 || p.available === false) svg.append(node("rect", { x: x(p.t) - step, y: T, width: step, height: H - B - T, class: "outage" }));
  }
  x.step = step;
  return x;
}

function line(svg, points, x, y, value, cls) {
  // A gap (no operation of that kind in an interval) breaks the line instead of bridging it.
  let run = [];
  const flush = () => {
    // A lone point is drawn as a dot (the same point twice, with round caps).
    if (run.length) svg.append(node("polyline", { points: (run.length === 1 ? [run[0], run[0]] : run).join(" "), class: "series " + cls, "data-count": run.length }));
    run = [];
  };
  for (const p of points) {
    const v = value(p);
    if (v === null || v === undefined) flush();
    else run.push(x(p.t).toFixed(1) + "," + y(v).toFixed(1));
  }
  flush();
}

function latencyChart(svg, data) {
  const x = frame(svg, data);
  const lo = Math.log10(0.05), hi = Math.log10(5000);
  const y = (ms) => T + (1 - (Math.log10(Math.min(Math.max(ms, 0.05), 5000)) - lo) / (hi - lo)) * (H - B - T);
  for (const ms of [0.1, 1, 10, 100, 1000]) {
    svg.append(node("line", { x1: L, x2: W - R, y1: y(ms), y2: y(ms), class: "grid" }));
    svg.append(node("text", { x: L - 6, y: y(ms) + 4, class: "tick", "text-anchor": "end" }, ms >= 1 ? ms + " ms" : ms + ""));
  }
  const op = (name, q) => (p) => (p.ops[name] ? p.ops[name][q] : null);
  line(svg, data.points, x, y, op("get", "p50Ms"), "get p50");
  line(svg, data.points, x, y, op("get", "p99Ms"), "get p99");
  line(svg, data.points, x, y, op("save", "p50Ms"), "save p50");
  line(svg, data.points, x, y, op("save", "p99Ms"), "save p99");
}

function hitsChart(svg, data) {
  const x = frame(svg, data);
  const y = (rate) => T + (1 - rate) * (H - B - T);
  for (const rate of [0, 0.5, 1]) {
    svg.append(node("line", { x1: L, x2: W - R, y1: y(rate), y2: y(rate), class: "grid" }));
    svg.append(node("text", { x: L - 6, y: y(rate) + 4, class: "tick", "text-anchor": "end" }, rate * 100 + " %"));
  }
  const most = Math.max(1, ...data.points.map((p) => p.failures));
  const step = x.step;
  for (const p of data.points) {
    if (p.failures > 0) {
      const h = (p.failures / most) * (H - B - T);
      svg.append(node("rect", { x: x(p.t) - step * 0.8, y: H - B - h, width: step * 0.6, height: h, class: "failed", "data-failures": p.failures }));
    }
  }
  line(svg, data.points, x, y, (p) => p.hitRate, "hitrate");
}

function fmt(ms) {
  return ms === null || ms === undefined ? "—" : ms < 1 ? ms.toFixed(2) + " ms" : ms < 100 ? ms.toFixed(1) + " ms" : Math.round(ms) + " ms";
}

function summary(data) {
  const last = data.points[data.points.length - 1];
  const state = document.getElementById("store-state");
  const recent = data.points.slice(-3);
  const failing = recent.some((p) => p.failures > 0 || p.available === false);
  const known = data.points.some((p) => p.available !== null);
  state.dataset.state = failing ? "unavailable" : known ? "available" : "unknown";
  state.textContent = failing
    ? "Store unavailable: operations fail (503 pages) until it answers again."
    : known
      ? "Store available."
      : "No store operation yet: reload a page, or switch the simulated visitors on.";
  const total = data.points.reduce((n, p) => n + p.failures, 0);
  document.getElementById("failures-total").textContent = String(total);
  document.getElementById("failures-total").dataset.failures = String(total);
  const get = last && last.ops.get, save = last && last.ops.save;
  document.getElementById("now-get").textContent = get ? fmt(get.p50Ms) + " / " + fmt(get.p99Ms) : "—";
  document.getElementById("now-save").textContent = save ? fmt(save.p50Ms) + " / " + fmt(save.p99Ms) : "—";
  document.getElementById("now-hitrate").textContent = last && last.hitRate !== null ? Math.round(last.hitRate * 100) + " %" : "—";
  const count = last ? Object.values(last.ops).reduce((n, o) => n + o.count, 0) : 0;
  document.getElementById("now-rate").textContent = (count / (data.intervalMs / 1000)).toFixed(1) + " /s";
  const pause = document.getElementById("pause-state");
  if (pause) pause.textContent = data.pause && data.pause.resumesInMs !== null ? "Paused: Redis answers again in " + Math.ceil(data.pause.resumesInMs / 1000) + " s." : "";
  const visitors = document.getElementById("visitors-state");
  visitors.textContent = data.visitors ? "on" : "off";
  visitors.dataset.on = String(data.visitors);
}

async function poll() {
  try {
    const response = await fetch(seriesUrl, { cache: "no-store" });
    if (response.ok) {
      const data = await response.json();
      for (const [id, draw] of [["latency-chart", latencyChart], ["hits-chart", hitsChart]]) {
        const svg = document.getElementById(id);
        draw(svg, data);
        svg.dataset.points = String(data.points.length);
        svg.dataset.lastT = data.points.length ? String(data.points[data.points.length - 1].t) : "";
      }
      summary(data);
    }
  } catch (error) {
    // the demo stopped or restarts: keep trying
  }
  setTimeout(poll, Number(root.dataset.intervalMs));
}
poll();
`;

export const PAGE_SCRIPT_HASH = `'sha256-${createHash("sha256").update(PAGE_SCRIPT).digest("base64")}'`;
