import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDemo, type RunningDemo } from "../src/demo.js";
import { readSettings } from "../src/settings.js";
import { stopProcess } from "@sessionbridge/testing";
import { artifacts, launchChromium } from "./browser.js";
import { csrfOf } from "./launch-demo.js";

// The browser journey, in Debian's Chromium (browsers cannot be downloaded here), against the
// demo's default topology: a private redis-server, one Express, one Fastify and one Koa instance (each
// with its own store client: they share nothing but Redis) and the round-robin balancer. The instances
// run inside the test process here (`inProcess`); launcher.test.ts starts them as separate processes,
// as `pnpm demo` does.

const ALL_FRAMEWORKS = new Set(["Express", "Fastify", "Koa"]);
let demo: RunningDemo;
let browser: Browser;

beforeAll(async () => {
  demo = await startDemo(readSettings({ PORT: "0" }), { inProcess: true });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await demo?.close();
});

interface Banner {
  instance: string;
  framework: string;
  visits: number;
  user: string | null;
}

/** What the "served by" banner of the current page says. */
async function banner(page: Page): Promise<Banner> {
  const servedBy = page.locator("#served-by");
  const whoami = page.locator("#whoami");
  return {
    instance: (await servedBy.getAttribute("data-instance")) ?? "",
    framework: (await servedBy.getAttribute("data-framework")) ?? "",
    visits: Number(await page.locator("#visits").textContent()),
    user: (await whoami.count()) > 0 ? await whoami.textContent() : null,
  };
}

async function logIn(page: Page, username: string, password: string): Promise<void> {
  await page.goto(new URL("/login", demo.url).href);
  await page.fill("#username", username);
  await page.fill("#password", password);
  await Promise.all([page.waitForURL((url) => url.pathname === "/"), page.click("form[action='/login'] button[type=submit]")]);
}

describe("the demo in a real browser", () => {
  it("keeps one login across Express, Fastify and Koa instances, and logs out everywhere from another browser", async () => {
    const username = `e2e-${Date.now().toString(36)}`;
    const password = "correct horse battery";
    const first = await browser.newContext({ userAgent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36" });
    const page = await first.newPage();

    // Sign up (which signs in), log out, log in again.
    await page.goto(new URL("/signup", demo.url).href);
    await page.fill("#username", username);
    await page.fill("#displayName", "E2E Tester");
    await page.fill("#password", password);
    await Promise.all([page.waitForURL((url) => url.pathname === "/"), page.click("form[action='/signup'] button[type=submit]")]);
    expect((await banner(page)).user).toBe(username);
    await page.screenshot({ path: `${artifacts}01-signed-up.png`, fullPage: true });
    await Promise.all([page.waitForURL((url) => url.pathname === "/login"), page.click("form[action='/logout'] button")]);
    expect((await banner(page)).user).toBeNull();
    await logIn(page, username, password);
    expect((await banner(page)).user).toBe(username);

    // Ten reloads: the balancer spreads them over every instance; the session follows.
    const seen: Banner[] = [];
    for (let i = 0; i < 10; i++) {
      await page.reload();
      seen.push(await banner(page));
    }
    await page.screenshot({ path: `${artifacts}02-after-ten-reloads.png`, fullPage: true });
    expect(seen.every((b) => b.user === username)).toBe(true);
    expect(new Set(seen.map((b) => b.framework))).toEqual(ALL_FRAMEWORKS);
    expect(new Set(seen.map((b) => b.instance)).size).toBe(demo.instances.length);
    // The visit counter lives in the session: every framework read the previous count and wrote the next.
    expect(seen.map((b) => b.visits)).toEqual(seen.map((_, i) => (seen[0]?.visits ?? 0) + i));

    // Edit the profile on one instance; every framework shows the new name.
    await page.goto(new URL("/profile", demo.url).href);
    await page.fill("#displayName", "Renamed <b>Tester</b>");
    await Promise.all([page.waitForURL((url) => url.searchParams.get("m") === "saved"), page.click("form[action='/profile'] button[type=submit]")]);
    await page.screenshot({ path: `${artifacts}03-profile-saved.png`, fullPage: true });
    const namesByFramework = new Map<string, string | null>();
    for (let i = 0; i < demo.instances.length; i++) {
      await page.goto(demo.url);
      namesByFramework.set((await banner(page)).framework, await page.locator("#display-name").textContent());
    }
    expect(new Set(namesByFramework.keys())).toEqual(ALL_FRAMEWORKS);
    expect(new Set(namesByFramework.values())).toEqual(new Set(["Renamed <b>Tester</b>"])); // shown as text, not markup

    // A second browser logs in as the same user, sees both sessions, and logs out everywhere.
    const second = await browser.newContext({ userAgent: "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1", viewport: { width: 390, height: 844 } });
    const phone = await second.newPage();
    await logIn(phone, username, password);
    expect((await banner(phone)).user).toBe(username);
    await phone.screenshot({ path: `${artifacts}04-home-phone.png`, fullPage: true });
    await phone.goto(new URL("/sessions", demo.url).href);
    const rows = phone.locator("#session-rows tr");
    expect(await rows.count()).toBe(2);
    expect(await phone.locator("#session-rows tr[data-current=true]").count()).toBe(1);
    await expect.poll(() => phone.locator("#session-rows").textContent()).toContain("Chrome on Linux");
    await phone.screenshot({ path: `${artifacts}05-active-sessions-phone.png`, fullPage: true });
    await Promise.all([phone.waitForURL((url) => url.pathname === "/login"), phone.click("#logout-everywhere")]);
    expect(await phone.locator(".notice").textContent()).toContain("logged out on every device");

    // The first browser is logged out too, on every instance.
    const after: Banner[] = [];
    for (let i = 0; i < demo.instances.length; i++) {
      await page.reload();
      after.push(await banner(page));
    }
    await page.screenshot({ path: `${artifacts}06-first-browser-logged-out.png`, fullPage: true });
    expect(after.map((b) => b.user)).toEqual(after.map(() => null));
    expect(new Set(after.map((b) => b.framework))).toEqual(ALL_FRAMEWORKS);
    await page.goto(new URL("/sessions", demo.url).href);
    expect(new URL(page.url()).pathname).toBe("/login");

    // Links in the text are the page's accent colour, not the browser's default blue.
    await page.goto(new URL("/no-such-page", demo.url).href);
    const linkColor = await page.locator("main a").first().evaluate((a) => getComputedStyle(a).color);
    expect(linkColor).toBe("rgb(36, 88, 214)"); // --accent: #2458d6

    await first.close();
    await second.close();
  }, 120_000);
});

describe("the demo over plain HTTP", () => {
  /** A tiny cookie-keeping client, to look at what a browser hides. */
  function client(base = demo.url) {
    const jar = new Map<string, string>();
    let cookie = "";
    return {
      cookie: () => cookie,
      /** Sends later requests to another base URL (e.g. one instance directly), with the same cookies. */
      at: (url: string) => void (base = url),
      async request(path: string, form?: Record<string, string>) {
        const response = await fetch(new URL(path, base), {
          method: form ? "POST" : "GET",
          redirect: "manual",
          headers: { cookie, ...(form ? { "content-type": "application/x-www-form-urlencoded" } : {}) },
          ...(form ? { body: new URLSearchParams(form).toString() } : {}),
        });
        for (const line of response.headers.getSetCookie()) {
          const [pair = "", ...attributes] = line.split(";");
          const name = pair.slice(0, pair.indexOf("="));
          if (attributes.some((a) => /^\s*max-age=0\s*$/i.test(a) || /expires=thu, 01 jan 1970/i.test(a))) jar.delete(name);
          else jar.set(name, pair);
        }
        cookie = [...jar.values()].join("; ");
        return { status: response.status, location: response.headers.get("location"), servedBy: response.headers.get("x-served-by"), headers: response.headers, body: await response.text() };
      },
    };
  }

  it("names no host or port of the session store on any framework's pages (the footer says only which kind of store)", async () => {
    const address = /\b(\d{1,3}(?:\.\d{1,3}){3}:\d+)/.exec(demo.storeDescription)?.[1];
    expect(address, demo.storeDescription).toBeTruthy();
    for (const instance of demo.instances) {
      const visitor = client(`http://127.0.0.1:${instance.port}/`);
      for (const path of ["/", "/login", "/signup"]) {
        const page = await visitor.request(path);
        expect(page.status, `${instance.name} ${path}`).toBe(200);
        expect(page.body, `${instance.name} ${path}`).toContain("Sessions live in redis;");
        expect(page.body, `${instance.name} ${path}`).not.toContain(address);
      }
    }
  });

  it("refuses a state-changing form without the session's CSRF token, on every framework", async () => {
    const visitor = client();
    const { body } = await visitor.request("/signup");
    const token = csrfOf(body);
    expect(token).not.toBe("");
    for (let i = 0; i < demo.instances.length; i++) {
      const missing = await visitor.request("/signup", { username: `nocsrf${i}x`, displayName: "x", password: "long enough" });
      expect(missing.status, `served by ${missing.servedBy}`).toBe(403);
      const wrong = await visitor.request("/signup", { _csrf: `${token.slice(1)}x`, username: `nocsrf${i}x`, displayName: "x", password: "long enough" });
      expect(wrong.status, `served by ${wrong.servedBy}`).toBe(403);
    }
  });

  it("issues a new session id at login and forgets the old one, on every framework", async () => {
    for (const instance of demo.instances) {
      // Straight to the instance, so each framework's login path runs (the balancer would pick one).
      const visitor = client(`http://127.0.0.1:${instance.port}/`);
      const username = `regen-${instance.framework.toLowerCase()}-${Date.now().toString(36)}`;
      const form = await visitor.request("/signup");
      const before = visitor.cookie();
      expect(before, instance.name).toMatch(/^sb\.sid=s(%3A|:)/); // express-session URL-encodes the colon, @fastify/session does not
      const created = await visitor.request("/signup", { _csrf: csrfOf(form.body), username, displayName: "Regen", password: "long enough" });
      expect(created.status, instance.name).toBe(303);
      expect(visitor.cookie(), instance.name).not.toBe(before);
      const home = await visitor.request("/");
      expect(home.body, instance.name).toContain(`id="whoami">${username}<`);
      // The pre-login cookie no longer identifies anyone, on any instance.
      for (const other of demo.instances) {
        const attacker = await fetch(`http://127.0.0.1:${other.port}/`, { headers: { cookie: before } });
        expect(await attacker.text(), `${instance.name} → ${other.name}`).toContain('id="whoami-anon"');
      }
      // Someone else cannot take the name.
      const again = client();
      const retry = await again.request("/signup", { _csrf: csrfOf((await again.request("/signup")).body), username, displayName: "Thief", password: "long enough" });
      expect(retry.status).toBe(400);
      expect(retry.body).toContain("That username is taken.");
    }
  });

  it("sets the session cookie HttpOnly and SameSite=Lax on every framework", async () => {
    for (let i = 0; i < demo.instances.length; i++) {
      const response = await fetch(new URL("/login", demo.url));
      const line = response.headers.getSetCookie().find((l) => l.startsWith("sb.sid=")) ?? "";
      expect(line, `served by ${response.headers.get("x-served-by")}`).toMatch(/HttpOnly/i);
      expect(line).toMatch(/SameSite=Lax/i);
      expect(line).not.toMatch(/Secure/i); // plain HTTP here
    }
  });

  it("marks the cookie Secure on every framework when a local TLS terminator says the request came over HTTPS", async () => {
    const frameworks = new Set<string>();
    for (let i = 0; i < demo.instances.length; i++) {
      const response = await fetch(new URL("/login", demo.url), { headers: { "x-forwarded-proto": "https" } });
      const line = response.headers.getSetCookie().find((l) => l.startsWith("sb.sid=")) ?? "";
      expect(line, response.headers.get("x-served-by") ?? "").toMatch(/;\s*Secure/i);
      frameworks.add(/data-framework="([^"]+)"/.exec(await response.text())?.[1] ?? "");
    }
    expect(frameworks).toEqual(ALL_FRAMEWORKS);
  });

  it("tells a visitor whose session ended by itself that it expired, once, on every framework", async () => {
    for (const instance of demo.instances) {
      const username = `expiry-${instance.name}-${Date.now().toString(36)}`;
      const visitor = client();
      const form = await visitor.request("/signup");
      expect((await visitor.request("/signup", { _csrf: csrfOf(form.body), username, displayName: "Idle", password: "long enough" })).status).toBe(303);
      // The session ends on the server while the browser keeps its cookies, as after an idle timeout.
      const other = client();
      const login = await other.request("/login");
      expect((await other.request("/login", { _csrf: csrfOf(login.body), username, password: "long enough" })).status).toBe(303);
      expect((await other.request("/sessions/logout-others", { _csrf: csrfOf((await other.request("/sessions")).body) })).status).toBe(303);

      visitor.at(`http://127.0.0.1:${instance.port}/`);
      const back = await visitor.request("/");
      expect(back.status, instance.name).toBe(200);
      expect(back.body, instance.name).toContain("Your session expired");
      expect(back.body, instance.name).not.toContain(`id="whoami">${username}<`);
      expect((await visitor.request("/")).body, `${instance.name}, said once`).not.toContain("Your session expired");
    }
    // A logout is not an expiry.
    const leaving = client();
    const form = await leaving.request("/signup");
    expect((await leaving.request("/signup", { _csrf: csrfOf(form.body), username: `leaving-${Date.now().toString(36)}`, displayName: "Leaving", password: "long enough" })).status).toBe(303);
    const out = await leaving.request("/logout", { _csrf: csrfOf((await leaving.request("/")).body) });
    expect(out.status).toBe(303);
    expect((await leaving.request(out.location ?? "/login")).body).not.toContain("Your session expired");
  });

  it("lists the active sessions in the same order on every load, with the device in each Revoke button's name", async () => {
    const username = `order-${Date.now().toString(36)}`;
    const owner = client();
    const form = await owner.request("/signup");
    expect((await owner.request("/signup", { _csrf: csrfOf(form.body), username, displayName: "Order", password: "long enough" })).status).toBe(303);
    for (let i = 0; i < 4; i++) {
      const device = client();
      const page = await device.request("/login");
      expect((await device.request("/login", { _csrf: csrfOf(page.body), username, password: "long enough" })).status).toBe(303);
    }
    // Each row by its revoke handle; this browser's own row has none. Loading the page is itself a visit
    // of this browser's session, which must not move its row.
    const orderOf = async () =>
      (await owner.request("/sessions")).body
        .split("<tr data-current=")
        .slice(1)
        .map((row) => /name="handle" value="([^"]+)"/.exec(row)?.[1] ?? "this browser");
    const first = await orderOf();
    expect(first).toHaveLength(5);
    for (let i = 0; i < 5; i++) expect(await orderOf()).toEqual(first);
    const labels = [...(await owner.request("/sessions")).body.matchAll(/<button[^>]*aria-label="([^"]+)"[^>]*>Revoke</g)].map((m) => m[1] ?? "");
    expect(labels).toHaveLength(4);
    for (const label of labels) expect(label).toMatch(/^Revoke .+, signed in \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
  });

  it("lists a user's sessions with IP and last seen, revokes one, and logs out the others (through the balancer)", async () => {
    const username = `sessions-${Date.now().toString(36)}`;
    const password = "long enough";
    const owner = client();
    const form = await owner.request("/signup");
    expect((await owner.request("/signup", { _csrf: csrfOf(form.body), username, displayName: "Owner", password })).status).toBe(303);
    const logIn = async () => {
      const device = client();
      const page = await device.request("/login");
      expect((await device.request("/login", { _csrf: csrfOf(page.body), username, password })).status).toBe(303);
      return device;
    };
    const [b, c] = [await logIn(), await logIn()];
    const signedIn = async (device: ReturnType<typeof client>) => (await device.request("/")).body.includes(`id="whoami">${username}<`);

    const listing = await owner.request("/sessions");
    expect(listing.status).toBe(200);
    expect(listing.body.match(/<tr data-current=/g)?.length).toBe(3);
    expect(listing.body.match(/data-label="IP">127\.0\.0\.1</g)?.length).toBe(3);
    expect(listing.body).toMatch(/data-label="Last seen">\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC</);
    const handles = [...listing.body.matchAll(/name="handle" value="([^"]+)"/g)].map((match) => match[1] ?? "");
    expect(handles).toHaveLength(2); // the owner's own row has no revoke button

    const revoked = await owner.request("/sessions/revoke", { _csrf: csrfOf(listing.body), handle: handles[0] ?? "" });
    expect(revoked.status).toBe(303);
    expect([await signedIn(b), await signedIn(c)].filter(Boolean)).toHaveLength(1); // exactly the revoked one is out
    expect(await signedIn(owner)).toBe(true);

    const again = await owner.request("/sessions");
    expect(again.body.match(/<tr data-current=/g)?.length).toBe(2);
    expect((await owner.request("/sessions/logout-others", { _csrf: csrfOf(again.body) })).status).toBe(303);
    expect([await signedIn(b), await signedIn(c)]).toEqual([false, false]);
    expect(await signedIn(owner)).toBe(true);
    expect((await owner.request("/sessions")).body.match(/<tr data-current=/g)?.length).toBe(1);
  });

  it("rejects a wrong password with a message, not an error page", async () => {
    const visitor = client();
    const form = await visitor.request("/login");
    const wrong = await visitor.request("/login", { _csrf: csrfOf(form.body), username: "nobody-here", password: "whatever123" });
    expect(wrong.status).toBe(401);
    expect(wrong.body).toContain("Wrong username or password.");
  });

  it("answers 503 on every framework while the store hangs, and carries on by itself when it is back", async () => {
    const pid = demo.redisPid;
    expect(pid).toBeTypeOf("number");
    const visitor = client();
    const username = `outage-${Date.now().toString(36)}`;
    const form = await visitor.request("/signup");
    expect((await visitor.request("/signup", { _csrf: csrfOf(form.body), username, displayName: "Outage", password: "long enough" })).status).toBe(303);
    const cookie = visitor.cookie();
    const home = (instance: { port: number }) => fetch(`http://127.0.0.1:${instance.port}/`, { headers: { cookie } });

    stopProcess(pid as number); // redis keeps its socket but answers nothing: a hung server
    try {
      for (const instance of demo.instances) {
        const response = await home(instance);
        expect(response.status, instance.name).toBe(503);
        expect(await response.text()).toContain("Session store unavailable");
        // A visitor without a cookie: their first page writes a new session (its CSRF token), which
        // fails. Every framework shows the same page, with no error text in it (the footer names only the
        // kind of store).
        const newcomer = await fetch(`http://127.0.0.1:${instance.port}/`);
        const page = await newcomer.text();
        expect(newcomer.status, `${instance.name}, no cookie`).toBe(503);
        expect(newcomer.headers.get("content-type"), instance.name).toContain("text/html");
        expect(page, instance.name).toContain("Session store unavailable");
        expect(page, instance.name).not.toContain("sessionbridge:");
        expect(newcomer.headers.getSetCookie().filter((c) => c.startsWith("sb.sid=")), instance.name).toEqual([]);
      }
    } finally {
      process.kill(pid as number, "SIGCONT");
    }
    for (const instance of demo.instances) {
      await expect.poll(async () => (await home(instance)).status, { timeout: 10_000, interval: 100 }).toBe(200);
      expect(await (await home(instance)).text(), instance.name).toContain(`id="whoami">${username}<`);
    }
  });
});
