import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "../src/launch/embedded-postgres.js";
import { csrfOf, launch, visitor, type Spawned } from "./launch-demo.js";
import { artifacts, launchChromium } from "./browser.js";

// The catalogue page as `pnpm demo` serves it: a private redis-server (sessions and the cache), a
// database given in DATABASE_URL, and Express, Fastify and Koa as three separate processes behind the
// round-robin balancer. Every request below goes through the balancer, so three requests in a row reach
// the three instances.
//
// DATABASE_URL, when the test run has one, is a real PostgreSQL; otherwise the test serves a PGlite of its
// own over the Postgres wire protocol (the demo's embedded default, started here so that its URL can carry
// a password the output must never show). launcher.test.ts covers the default without DATABASE_URL.

let demo: Spawned & { url: string };
let own: EmbeddedPostgres | undefined;
const PASSWORD = "not-in-any-log-456";
/** Signed in: edits need a user. One account for every test (a sign-up costs a password hash). */
let signedIn: ReturnType<typeof visitor>;

beforeAll(async () => {
  const given = process.env.DATABASE_URL;
  if (given !== undefined) {
    // A real PostgreSQL keeps the demo's table between runs: start from the sample rows again.
    const client = new pg.Client({ connectionString: given });
    await client.connect();
    await client.query("DROP TABLE IF EXISTS sessionbridge_demo_products");
    await client.end();
  }
  const url = given ?? (own = await startEmbeddedPostgres()).url.replace("postgres@", `postgres:${PASSWORD}@`);
  demo = await launch({ DATABASE_URL: url });
  signedIn = visitor(demo.url);
  const signUp = await signedIn("/signup");
  expect((await signedIn("/signup", { _csrf: csrfOf(signUp.body), username: "editor", displayName: "Editor", password: "long enough" })).status).toBe(303);
}, 90_000);

afterAll(async () => {
  if (demo !== undefined) {
    demo.child.kill("SIGINT");
    await demo.exited;
  }
  await own?.stop();
});

/** The cache report of a page for one read: where the value came from and how many loader calls it cost. */
function step(body: string, what: string): { source: string; loaderCalls: number } {
  const match = new RegExp(`data-what="${what}" data-source="(\\w+)" data-loader-calls="(\\d+)"`).exec(body);
  return { source: match?.[1] ?? "none", loaderCalls: Number(match?.[2] ?? -1) };
}

const servedBy = (body: string) => /data-instance="([^"]+)"/.exec(body)?.[1] ?? "";

describe("the demo's catalogue", () => {
  it("runs one process per framework over the PostgreSQL in DATABASE_URL, and never prints its password", () => {
    expect(demo.output()).toMatch(/products: the PostgreSQL at postgres(ql)?:\/\/\S+ \(DATABASE_URL\), table sessionbridge_demo_products/);
    expect(demo.output()).not.toContain(PASSWORD);
    const pids = [...demo.output().matchAll(/instance \S+ \(\w+\) on 127\.0\.0\.1:\d+, pid (\d+)/g)].map((m) => Number(m[1]));
    expect(new Set([...pids, demo.child.pid]).size).toBe(4);
  });

  it("lazy loading across processes: the list costs one query on the first instance, the other two read it from the cache", async () => {
    const call = visitor(demo.url);
    const pages = [await call("/catalogue"), await call("/catalogue"), await call("/catalogue")];
    expect(new Set(pages.map((p) => servedBy(p.body))).size).toBe(3);
    expect(pages.map((p) => step(p.body, "product list"))).toEqual([
      { source: "miss", loaderCalls: 1 },
      { source: "hit", loaderCalls: 0 },
      { source: "hit", loaderCalls: 0 },
    ]);
    for (const page of pages) expect(page.body).toContain(">Teapot</a>");
    // The two instances that hit have sent the database nothing at all.
    expect(pages.slice(1).map((p) => /id="stat-queries">(\d+)</.exec(p.body)?.[1])).toEqual(["0", "0"]);
  }, 30_000);

  it("write-through across processes: an edit on one instance is read as a hit, with no query, on every instance; the list is loaded again once", async () => {
    const call = signedIn;
    const form = await call("/catalogue/2");
    const saved = await call("/catalogue/2", { _csrf: csrfOf(form.body), name: "Big kettle", price: "41.50" });
    expect(saved.status).toBe(303);
    expect(saved.location).toBe("/catalogue/2?m=saved");
    const editor = saved.servedBy ?? "";

    const reads = [await call("/catalogue/2"), await call("/catalogue/2"), await call("/catalogue/2")];
    expect(new Set(reads.map((p) => servedBy(p.body))).size).toBe(3);
    for (const read of reads) {
      expect(read.body).toContain('id="product-name">Big kettle<');
      expect(read.body).toContain('id="product-price">41.50<');
      expect(read.body).toContain('id="product-version">2<');
      expect(read.body).toContain(`last edited on <strong>${editor}</strong>`);
      expect(step(read.body, "product 2")).toEqual({ source: "hit", loaderCalls: 0 });
    }

    // The edit invalidated the list by its tag: one instance loads it again, the others read that.
    const lists = [await call("/catalogue"), await call("/catalogue"), await call("/catalogue")];
    expect(lists.map((p) => step(p.body, "product list").source).sort()).toEqual(["hit", "hit", "miss"]);
    expect(lists.reduce((sum, p) => sum + step(p.body, "product list").loaderCalls, 0)).toBe(1);
    for (const list of lists) expect(list.body).toContain(">Big kettle</a>");
  }, 30_000);

  it("refuses an edit without the form's CSRF token, from a visitor who is not signed in, and with a bad price, on every framework; nothing is written", async () => {
    const call = signedIn;
    const form = await call("/catalogue/3");
    const csrf = csrfOf(form.body);
    const answers = [];
    for (let i = 0; i < 3; i++) {
      answers.push(await call("/catalogue/3", { _csrf: "forged", name: "Stolen", price: "1" }));
      answers.push(await call("/catalogue/3", { _csrf: csrf, name: "Mug", price: "-4" }));
    }
    expect(answers.map((a) => a.status)).toEqual([403, 400, 403, 400, 403, 400]);
    expect(new Set(answers.map((a) => a.servedBy)).size).toBe(3);
    expect(answers[1]?.body).toContain("The price must look like 24 or 24.50");

    // A visitor's session holds a valid CSRF token too: the edit is refused for want of a user.
    const anonymous = visitor(demo.url);
    const token = csrfOf((await anonymous("/login")).body);
    const refused = [];
    for (let i = 0; i < 3; i++) refused.push(await anonymous("/catalogue/3", { _csrf: token, name: "Anonymous", price: "2" }));
    expect(refused.map((a) => [a.status, a.location])).toEqual(Array(3).fill([303, "/login"]));
    expect(new Set(refused.map((a) => a.servedBy)).size).toBe(3);
    const page = await anonymous("/catalogue/3");
    expect(page.body).toContain('<a href="/login">Log in</a> to edit this product.');
    expect(page.body).not.toContain('action="/catalogue/3"');

    const after = await call("/catalogue/3");
    expect(after.body).toContain('id="product-name">Mug<');
    expect(after.body).toContain('id="product-version">1<');
  }, 30_000);

  it("in Chromium: an edit saved on one instance is read from the cache by the next ones", async () => {
    const browser = await launchChromium();
    try {
      // The signed-in account's session (no second password hash for a login through the form).
      const cookie = signedIn.cookie();
      const context = await browser.newContext();
      await context.addCookies([{ name: cookie.slice(0, cookie.indexOf("=")), value: cookie.slice(cookie.indexOf("=") + 1), url: demo.url }]);
      const page = await context.newPage();
      await page.goto(new URL("/catalogue", demo.url).href);
      await Promise.all([page.waitForURL((url) => url.pathname === "/catalogue/1"), page.click("a[href='/catalogue/1']")]);
      await page.fill("#name", "Teapot, large");
      await page.fill("#price", "31");
      // The POST is served by one instance, the page it redirects to by the next one, the reload by a third.
      await Promise.all([page.waitForURL((url) => url.search === "?m=saved"), page.click("form[action='/catalogue/1'] button[type=submit]")]);
      const editor = /Saved on (\S+):/.exec((await page.locator("#edit-notice").textContent()) ?? "")?.[1];
      const seen = new Set<string | null>([editor ?? "none"]);
      for (let view = 0; view < 2; view++) {
        if (view > 0) await page.reload();
        seen.add(await page.locator("#served-by").getAttribute("data-instance"));
        expect(await page.locator("#product-name").textContent()).toBe("Teapot, large");
        expect(await page.locator("#product-price").textContent()).toBe("31.00");
        expect(await page.locator("#cache-steps [data-what='product 1']").getAttribute("data-source")).toBe("hit");
      }
      expect(seen.size).toBe(3);
      await page.screenshot({ path: `${artifacts}catalogue.png`, fullPage: true });
    } finally {
      await browser.close();
    }
  }, 60_000);
});
