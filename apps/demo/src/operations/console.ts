import { randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { collectFleet, prometheusText, type MetricsSource } from "./fleet-metrics.js";
import { OperationsHistory } from "./history.js";
import { OPERATIONS_PAGE_CSP, operationsPage } from "./page.js";
import { RedisPause } from "./redis-pause.js";
import { SimulatedVisitors } from "./visitors.js";

export interface OperationsConsoleOptions {
  /** Every instance's metrics. */
  sources: readonly MetricsSource[];
  /** The backend's kind (`redis`, …), the only thing the page says about it. */
  system: string;
  /** Scrape interval of the page's history in milliseconds. Default 2000. */
  intervalMs?: number;
  /** How much history the page keeps and draws, in milliseconds. Default 300 000 (5 minutes). */
  windowMs?: number;
  /** The pid of the private redis-server the demo started: enables "Pause Redis". */
  redisPid?: number;
  /** How long "Pause Redis" pauses it, in milliseconds. Default 10 000. */
  pauseMs?: number;
}

/** Handles a request on the balancer itself; false: not ours, forward it to an instance. */
export type LocalRoutes = (req: IncomingMessage, res: ServerResponse, body: Buffer) => boolean;

const HEADERS = { "cache-control": "no-store", "x-content-type-options": "nosniff", "referrer-policy": "same-origin", "x-frame-options": "DENY" };

/**
 * The fleet's operations, served by the balancer (it alone sees every instance): `/metrics` for
 * Prometheus, `/operations` (the page with the charts), `/operations/series.json` (what the page draws),
 * and the page's two controls. Nothing it answers names a host, a port or a user.
 */
export class OperationsConsole {
  readonly intervalMs: number;
  readonly windowMs: number;
  private readonly history: OperationsHistory;
  private readonly token = randomBytes(18).toString("base64url");
  private readonly pause: RedisPause | undefined;
  private visitors: SimulatedVisitors | undefined;
  private readonly timer: NodeJS.Timeout;
  private sampling = false;

  constructor(private readonly options: OperationsConsoleOptions) {
    this.intervalMs = options.intervalMs ?? 2000;
    this.windowMs = options.windowMs ?? 300_000;
    this.history = new OperationsHistory(Math.ceil(this.windowMs / this.intervalMs));
    this.pause = options.redisPid === undefined ? undefined : new RedisPause(options.redisPid, options.pauseMs ?? 10_000);
    this.timer = setInterval(() => void this.sample(), this.intervalMs);
    this.timer.unref();
    void this.sample();
  }

  /** Where the simulated visitors go: the balancer's own URL, known once it listens. */
  visitorsTo(url: string): void {
    this.visitors = new SimulatedVisitors(url);
  }

  readonly routes: LocalRoutes = (req, res, body) => {
    const path = (req.url ?? "/").split("?")[0];
    const get = req.method === "GET" || req.method === "HEAD";
    if (get && path === "/metrics") void this.metrics(res).catch(() => this.send(res, 500, "text/plain; charset=utf-8", "500: the metrics could not be collected\n"));
    else if (get && path === "/operations") this.send(res, 200, "text/html; charset=utf-8", this.page(), { "content-security-policy": OPERATIONS_PAGE_CSP });
    else if (get && path === "/operations/series.json") this.send(res, 200, "application/json", JSON.stringify(this.series()));
    else if (req.method === "POST" && (path === "/operations/visitors" || path === "/operations/pause")) this.control(path, new URLSearchParams(body.toString("utf8")), res);
    else return false;
    return true;
  };

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.pause?.resume();
    await this.visitors?.stop();
  }

  private async sample(): Promise<void> {
    if (this.sampling) return; // a slow scrape: skip a turn rather than pile up
    this.sampling = true;
    try {
      this.history.record(await collectFleet(this.options.sources));
    } finally {
      this.sampling = false;
    }
  }

  private async metrics(res: ServerResponse): Promise<void> {
    const text = prometheusText(await collectFleet(this.options.sources));
    // The Prometheus text exposition format, version 0.0.4 (what the exporter's own server answers).
    this.send(res, 200, "text/plain; version=0.0.4; charset=utf-8", text);
  }

  private series() {
    const resumesAt = this.pause?.resumesAtMs;
    return {
      intervalMs: this.intervalMs,
      windowMs: this.windowMs,
      system: this.options.system,
      visitors: this.visitors?.running ?? false,
      pause: this.pause === undefined ? null : { pauseMs: this.pause.pauseMs, resumesInMs: resumesAt === undefined ? null : Math.max(0, resumesAt - Date.now()) },
      points: this.history.snapshot(),
    };
  }

  private page(): string {
    return operationsPage({ intervalMs: this.intervalMs, windowMs: this.windowMs, system: this.options.system, token: this.token, visitorsOn: this.visitors?.running ?? false, pauseMs: this.pause?.pauseMs });
  }

  private control(path: string, form: URLSearchParams, res: ServerResponse): void {
    const given = Buffer.from(form.get("token") ?? "");
    const expected = Buffer.from(this.token);
    // A form from another site cannot know the token (it is only in this page): no cross-site pause.
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return this.send(res, 403, "text/plain; charset=utf-8", "403: this form has expired; reload the operations page\n");
    if (path === "/operations/pause") {
      if (this.pause === undefined) return this.send(res, 404, "text/plain; charset=utf-8", "404: the demo pauses only the redis-server it started itself\n");
      this.pause.pause();
    } else if (form.get("on") === "1") this.visitors?.start();
    else void this.visitors?.stop();
    res.writeHead(303, { ...HEADERS, location: "/operations" }).end();
  }

  private send(res: ServerResponse, status: number, type: string, body: string, extra: Record<string, string> = {}): void {
    res.writeHead(status, { ...HEADERS, ...extra, "content-type": type }).end(body);
  }
}
