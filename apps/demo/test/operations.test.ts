import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDemo, type RunningDemo } from "../src/demo.js";
import { quantile } from "../src/operations/history.js";
import { readSettings } from "../src/settings.js";
import { artifacts, launchChromium } from "./browser.js";

// The operations page in Debian's Chromium against the demo's default topology (a private redis-server,
// Express + Fastify + Koa, the balancer; instances inside the test process). The page's history is
// scraped every 500 ms here (2 s by default) and "Pause Redis" lasts 3 s (10 s by default), so the
// journey is short; nothing below measures time, it waits for what the page shows.

let demo: RunningDemo;
let browser: Browser;

beforeAll(async () => {
  demo = await startDemo(readSettings({ PORT: "0" }), { inProcess: true, operations: { intervalMs: 500, pauseMs: 3000 } });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await demo?.close();
});

/** Everything an HTTP response must not carry: the store's and the balancer's address, a URL with credentials. */
function addresses(): string[] {
  const redisPort = /redis:\/\/127\.0\.0\.1:(\d+)/.exec(demo.storeDescription)?.[1];
  expect(redisPort).toBeDefined();
  return ["127.0.0.1", "localhost", `:${redisPort}`, `:${new URL(demo.url).port}`, "redis://", ...demo.instances.map((i) => `:${i.port}`)];
}

describe("the operations page", () => {
  it("draws the store's latency and hit rate as they change, and shows a paused Redis as failed operations until it answers again", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("console", (message) => message.type() === "error" && errors.push(message.text())); // e.g. a CSP refusal
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(new URL("/operations", demo.url).href);
    await expect.poll(() => page.locator("#store-state").getAttribute("data-state"), { timeout: 10_000 }).toBe("unknown"); // no traffic yet

    // Simulated visitors: the charts get lines, and they move with every scrape.
    await Promise.all([page.waitForURL((url) => url.pathname === "/operations"), page.click("#visitors-toggle")]);
    expect(await page.locator("#visitors-state").getAttribute("data-on")).toBe("true");
    await page.waitForSelector("#latency-chart polyline.get.p50[data-count]", { state: "attached", timeout: 20_000 });
    await page.waitForSelector("#latency-chart polyline.save.p99", { state: "attached", timeout: 20_000 });
    await page.waitForSelector("#hits-chart polyline.hitrate", { state: "attached", timeout: 20_000 });
    await expect.poll(() => page.locator("#store-state").getAttribute("data-state"), { timeout: 20_000 }).toBe("available");
    const firstT = Number(await page.locator("#latency-chart").getAttribute("data-last-t"));
    const firstPoints = Number(await page.locator("#latency-chart polyline.get.p50").last().getAttribute("data-count"));
    await expect.poll(async () => Number(await page.locator("#latency-chart").getAttribute("data-last-t")), { timeout: 20_000 }).toBeGreaterThan(firstT);
    await expect.poll(async () => Number(await page.locator("#latency-chart polyline.get.p50").last().getAttribute("data-count")), { timeout: 20_000 }).toBeGreaterThan(firstPoints);
    expect(await page.locator("#now-hitrate").textContent()).toMatch(/^\d+ %$/);
    expect(await page.locator("#now-get").textContent()).toMatch(/ms \/ .* ms$/);
    await page.screenshot({ path: `${artifacts}operations-1-running.png`, fullPage: true });

    // Pause Redis (SIGSTOP to the private redis-server): failed operations, a red band, "unavailable".
    await Promise.all([page.waitForURL((url) => url.pathname === "/operations"), page.click("#pause-redis")]);
    await expect.poll(() => page.locator("#store-state").getAttribute("data-state"), { timeout: 20_000 }).toBe("unavailable");
    await page.waitForSelector("#hits-chart rect.failed", { state: "attached", timeout: 20_000 });
    expect(await page.locator("#latency-chart rect.outage").count()).toBeGreaterThan(0);
    expect(Number(await page.locator("#failures-total").getAttribute("data-failures"))).toBeGreaterThan(0);
    await page.screenshot({ path: `${artifacts}operations-2-paused.png`, fullPage: true });

    // Redis resumes by itself after the pause: the page says so once the failures have stopped.
    await expect.poll(() => page.locator("#store-state").getAttribute("data-state"), { timeout: 30_000 }).toBe("available");
    await expect.poll(async () => (await page.locator("#now-get").textContent()) ?? "", { timeout: 20_000 }).toMatch(/ms \/ .* ms$/);
    await page.screenshot({ path: `${artifacts}operations-3-recovered.png`, fullPage: true });
    await Promise.all([page.waitForURL((url) => url.pathname === "/operations"), page.click("#visitors-toggle")]);
    expect(await page.locator("#visitors-state").getAttribute("data-on")).toBe("false");
    expect(errors).toEqual([]);
    await context.close();

    // What a Prometheus scrape saw: the outage is in the counters, the gauge is back to 1.
    const metrics = await (await fetch(new URL("/metrics", demo.url))).text();
    expect(metrics).toMatch(/^sessionbridge_(timeouts|unavailable)_total\{[^}]*service_instance_id="in-process"[^}]*\} [1-9]/m);
    expect(metrics).toMatch(/^sessionbridge_hits_total\{[^}]*\} [1-9]/m);
    expect(metrics).toMatch(/^sessionbridge_backend_available\{[^}]*\} 1$/m);
  }, 120_000);

  it("answers /metrics in the Prometheus text format, and none of its responses names a host, a port or a user", async () => {
    const metrics = await fetch(new URL("/metrics", demo.url));
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    const text = await metrics.text();
    expect(text).toMatch(/^# TYPE db_client_operation_duration histogram$/m);
    // Each family once, all its lines together (the format requires it even with several instances).
    const families = [...text.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]);
    expect(new Set(families).size).toBe(families.length);

    const bodies: Array<[string, string]> = [["/metrics", text]];
    for (const path of ["/operations", "/operations/series.json"]) {
      const response = await fetch(new URL(path, demo.url));
      expect(response.status, path).toBe(200);
      bodies.push([path, await response.text()]);
    }
    // A forged form (no token) changes nothing.
    const forged = await fetch(new URL("/operations/pause", demo.url), { method: "POST", body: "token=guess", headers: { "content-type": "application/x-www-form-urlencoded" }, redirect: "manual" });
    expect(forged.status).toBe(403);
    bodies.push(["/operations/pause (403)", await forged.text()]);
    for (const [path, body] of bodies) for (const address of addresses()) expect(body, `${path} contains ${address}`).not.toContain(address);
  });
});

describe("the page's percentiles", () => {
  it("are estimated from histogram buckets like Prometheus's histogram_quantile (linear within the bucket)", () => {
    // 10 in (1, 2], 10 in (2, 4]: the median is the top of the first of those buckets, p75 half-way up the next.
    expect(quantile(0.5, [1, 2, 4], [0, 10, 10, 0])).toBe(2);
    expect(quantile(0.75, [1, 2, 4], [0, 10, 10, 0])).toBe(3);
    expect(quantile(0.5, [1, 2, 4], [10, 0, 0, 0])).toBe(0.5);
    expect(quantile(0.99, [1, 2, 4], [0, 0, 0, 5])).toBe(4); // +Inf bucket: its lower bound
    expect(quantile(0.5, [1, 2, 4], [0, 0, 0, 0])).toBeNull();
  });
});
