import fc from "fast-check";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createSessionStore, memcachedBackend, type Backend, type SessionStore } from "@sessionbridge/core";
import { eventually, rejection, uniquePrefix } from "../src/contract.js";
import { Socket } from "node:net";
import { startMemcached, type MemcachedServer } from "../src/memcached.js";

const DAY_MS = 24 * 3600 * 1000;
const sasl = { username: "app", password: "pw-that-must-not-leak" };

let plain: MemcachedServer;
let secured: MemcachedServer;
let tls: MemcachedServer;
let bigItems: MemcachedServer;
let saslOverTls: MemcachedServer;
const oddSasl = { username: "ops", password: "p w%@:/?#&=" };

beforeAll(async () => {
  [plain, secured, tls, bigItems, saslOverTls] = await Promise.all([
    startMemcached(),
    startMemcached({ sasl }),
    startMemcached({ tls: true }),
    startMemcached({ maxItemSize: "2m" }),
    startMemcached({ sasl: oddSasl, tls: true }),
  ]);
});
afterAll(async () => {
  await Promise.all([plain, secured, tls, bigItems, saslOverTls].map((server) => server?.dispose()));
});

const opened: Array<SessionStore | Backend> = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
});
function store(options: Parameters<typeof createSessionStore>[0]): SessionStore {
  const created = createSessionStore({ prefix: uniquePrefix("mc"), timeoutMs: 2000, ...options });
  opened.push(created);
  return created;
}
function backend(options: Parameters<typeof memcachedBackend>[0]): Backend {
  const created = memcachedBackend(options);
  opened.push(created);
  return created;
}

describe("memcached: URL and options", () => {
  it("works from a memcached:// URL in createSessionStore, credentials included", async () => {
    const s = store({ url: `memcached://${sasl.username}:${encodeURIComponent(sasl.password)}@${secured.address}` });
    await s.set("from-url", { ok: true });
    expect(await s.get("from-url")).toEqual({ ok: true });
    expect(s.backend.label).toBe(`memcached ${secured.address}`);
  });

  it("spreads a URL with several hosts over all of them", async () => {
    const s = store({ url: `memcached://${plain.address},${bigItems.address}` });
    expect(s.backend.label).toBe(`memcached ${plain.address},${bigItems.address}`);
    const ids = Array.from({ length: 40 }, (_, i) => `spread-${i}`);
    for (const id of ids) await s.set(id, { id });
    for (const id of ids) expect(await s.get(id)).toEqual({ id });
    const onFirst = await Promise.all(ids.map((id) => backend({ servers: [plain.address] }).get((s.options.prefix as string) + id)));
    const hits = onFirst.filter((value) => value !== null).length;
    expect(hits).toBeGreaterThan(0);
    expect(hits).toBeLessThan(ids.length);
  });

  it("rejects bad options with CONFIG naming the option, never echoing a password", () => {
    const cases: Array<[() => unknown, RegExp]> = [
      [() => memcachedBackend({}), /"servers"/],
      [() => memcachedBackend({ servers: [] }), /"servers"/],
      [() => memcachedBackend({ servers: ["host:99999"] }), /"servers".*65535/],
      [() => memcachedBackend({ servers: ["a:1", "a:1"] }), /duplicates/],
      [() => memcachedBackend({ servers: ["a:1"], username: "u" }), /"password"/],
      [() => memcachedBackend({ servers: ["a:1"], maxItemBytes: 0 }), /"maxItemBytes"/],
      [() => memcachedBackend({ servers: ["a:1"], nodeTimeoutMs: -1 }), /"nodeTimeoutMs"/],
      [() => memcachedBackend({ servers: ["a:1"], ttl: 5 } as never), /"ttl"/],
      [() => memcachedBackend({ url: "memcached://u:hunter2@h1:11211,h2:x" }), /"url"/],
      [() => memcachedBackend({ url: "memcached://u:hunter2@h1:11211?tls=maybe" }), /tls=true/],
      [() => createSessionStore({ url: "memcached://u:hunter2@" }), /"url"/],
    ];
    for (const [make, message] of cases) {
      let thrown: unknown;
      try {
        make();
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toMatchObject({ name: "SessionStoreError", code: "CONFIG" });
      expect((thrown as Error).message).toMatch(message);
      expect((thrown as Error).message).not.toContain("hunter2");
    }
  });
});

describe("memcached: write batching", () => {
  /** Counts the writes Node's real sockets to `port` hand to the kernel while `work` runs. */
  async function writesTo<T>(port: number, work: () => Promise<T>): Promise<{ result: T; writes: number }> {
    const proto = Socket.prototype as unknown as Record<"_write" | "_writev", (this: Socket, ...args: unknown[]) => void>;
    const originals = { _write: proto._write, _writev: proto._writev };
    let writes = 0;
    for (const method of ["_write", "_writev"] as const) {
      proto[method] = function (this: Socket, ...args: unknown[]) {
        if (this.remotePort === port) writes++;
        return originals[method].apply(this, args);
      };
    }
    try {
      return { result: await work(), writes };
    } finally {
      Object.assign(proto, originals);
    }
  }

  it("sends the 50 reads one turn of the event loop starts in one write, and answers each correctly", async () => {
    const s = store({ backend: memcachedBackend({ servers: [plain.address] }) });
    const ids = Array.from({ length: 50 }, (_, i) => `user-${i}`);
    for (const id of ids) await s.set(id, { id });
    const { result, writes } = await writesTo(plain.port, () => Promise.all(ids.map((id) => s.get(id))));
    expect(result).toEqual(ids.map((id) => ({ id })));
    expect(writes).toBe(1); // 50 without batching
  });
});

describe("memcached: SASL", () => {
  it("works with the right credentials", async () => {
    const s = store({ backend: memcachedBackend({ servers: [secured.address], ...sasl }) });
    await s.set("sasl", { user: "ada" });
    expect(await s.get("sasl")).toEqual({ user: "ada" });
  });

  it("refuses a wrong password with AUTH naming the server and user, never the password", async () => {
    const s = store({ backend: memcachedBackend({ servers: [secured.address], username: sasl.username, password: "wrong-password-xyz" }) });
    for (const operation of [() => s.get("x"), () => s.set("x", { a: 1 }), () => s.ping()]) {
      const failure = await rejection(operation);
      expect(failure.code).toBe("AUTH");
      expect(failure.message).toContain(secured.address);
      expect(failure.message).toContain(`"${sasl.username}"`);
      expect(failure.message).not.toContain("wrong-password-xyz");
    }
  });

  it("logs in over TLS from a URL whose password is full of URL-special characters (percent-encoded)", async () => {
    expect(saslOverTls.url).toContain(encodeURIComponent(oddSasl.password));
    const s = store({ backend: memcachedBackend({ url: saslOverTls.url, tls: { ca: saslOverTls.tls!.caPem } }) });
    await s.set("both", { ok: 1 });
    expect(await s.get("both")).toEqual({ ok: 1 });
  });

  it("says credentials are needed when the server demands SASL and none were given", async () => {
    const failure = await rejection(store({ backend: memcachedBackend({ servers: [secured.address] }) }).get("x"));
    expect(failure.code).toBe("AUTH");
    expect(failure.message).toMatch(/requires SASL authentication/);
  });
});

describe("memcached: TLS", () => {
  it("talks to memcached -Z over TLS, verifying the certificate against the given CA", async () => {
    const s = store({ backend: memcachedBackend({ url: tls.url, tls: { ca: tls.tls!.caPem } }) });
    await s.set("secret", { card: "4111" });
    expect(await s.get("secret")).toEqual({ card: "4111" });
    await expect(s.ping()).resolves.toBeUndefined();
  });

  it("refuses a server whose certificate it cannot verify, with a message pointing at tls.ca", async () => {
    const s = store({ backend: memcachedBackend({ servers: [tls.address], tls: true }) });
    const failure = await rejection(s.get("x"));
    expect(failure.code).toBe("UNAVAILABLE");
    expect(failure.message).toMatch(/TLS handshake failed: check tls\.ca/);
  });

  it("says the port expects TLS when plain TCP meets a TLS port, on every operation", async () => {
    const s = store({ backend: memcachedBackend({ servers: [tls.address] }), timeoutMs: 1000 });
    for (const operation of [() => s.get("x"), () => s.set("x", { a: 1 }), () => s.ping()]) {
      const failure = await rejection(operation);
      expect(failure.code).toBe("CONFIG");
      expect(failure.message).toContain(`memcached ${tls.address}: the server expects TLS`);
    }
  });

  it("says the server speaks plain TCP when TLS meets a plain port, not a certificate problem", async () => {
    const s = store({ backend: memcachedBackend({ servers: [plain.address], tls: true }), timeoutMs: 1000 });
    for (const operation of [() => s.get("x"), () => s.set("x", { a: 1 }), () => s.ping()]) {
      const failure = await rejection(operation);
      expect(failure.code).toBe("CONFIG");
      expect(failure.message).toContain(`memcached ${plain.address}: TLS is on, but the server speaks plain TCP`);
      expect(failure.message).not.toContain("tls.ca");
    }
  });
});

describe("memcached: TTLs in whole seconds, absolute beyond 30 days", () => {
  it("keeps a 31-day session (memcached would read a relative 31 days as a date in 1970 and drop it)", async () => {
    const s = store({ backend: memcachedBackend({ servers: [plain.address] }), ttlMs: 31 * DAY_MS });
    await s.set("month", { a: 1 });
    expect(await s.get("month")).toEqual({ a: 1 }); // this read also refreshed the TTL (GAT) to 31 days
    expect(await s.touch("month", { ttlMs: 40 * DAY_MS })).toBe(true);
    expect(await s.get("month", { ttlMs: 31 * DAY_MS })).toEqual({ a: 1 });
    expect(await s.backend.get(`${s.options.prefix}month`)).not.toBeNull();
  });

  it("rounds a sub-second TTL up to a second instead of sending 0 (which would mean never expire)", async () => {
    const b = backend({ servers: [plain.address] });
    const key = `${uniquePrefix("ms")}k`;
    expect(await b.set(key, "v", 1)).toBe("ok");
    await eventually("the 1 ms item expired", async () => (await b.get(key)) === null, 10_000, 100);
    expect(await b.set(key, "v", 60_000)).toBe("ok");
    expect(await b.touch(key, 250)).toBe(true); // TOUCH with a sub-second TTL: rounds up too
    await eventually("the touched item expired", async () => (await b.get(key)) === null, 10_000, 100);
  });

  it("refreshes the TTL on read (GAT) so an often-read session outlives an unread one", async () => {
    const s = store({ backend: memcachedBackend({ servers: [plain.address] }), ttlMs: 3000 });
    await s.set("read", { a: 1 });
    await s.set("unread", { a: 1 });
    await eventually(
      "the unread session expired",
      async () => {
        expect(await s.get("read")).toEqual({ a: 1 });
        return (await s.backend.get(`${s.options.prefix}unread`)) === null;
      },
      15_000,
      500,
    );
  });
});

describe("memcached: keys", () => {
  it("stores any valid session id: spaces, unicode, percent signs, 256 characters", async () => {
    const s = store({ backend: memcachedBackend({ servers: [plain.address] }) });
    const ids = ["with space", "tab\u00a0nbsp", "ünïcödé ✓ \u{1F600}", "a%20b", "a b", "%H", "x".repeat(256), "é".repeat(256), "\u{1F600}".repeat(128), "sess:looks:like:a:key"];
    for (const [i, id] of ids.entries()) await s.set(id, { i });
    for (const [i, id] of ids.entries()) expect(await s.get(id)).toEqual({ i });
  });

  it("never lets two different ids share a memcached key (property test on random unicode ids)", async () => {
    const s = store({ backend: memcachedBackend({ servers: [plain.address] }) });
    const idArb = fc.string({ unit: "grapheme", minLength: 1, maxLength: 256 }).filter((id) => id.length <= 256 && !/[\u0000-\u001f\u007f-\u009f]/.test(id));
    const ids = [...new Set(fc.sample(idArb, { numRuns: 150, seed: 42 }))];
    await Promise.all(ids.map((id, i) => s.set(id, { i })));
    const read = await Promise.all(ids.map((id) => s.get(id)));
    read.forEach((data, i) => expect(data).toEqual({ i }));
  });
});

describe("memcached: item size", () => {
  it("refuses a session larger than maxItemBytes with TOO_LARGE and leaves the old one in place", async () => {
    const s = store({ backend: memcachedBackend({ servers: [plain.address] }), maxBytes: 4_000_000 });
    await s.set("big", { v: "kept" });
    const failure = await rejection(s.set("big", { v: "x".repeat(1_100_000) }));
    expect(failure.code).toBe("TOO_LARGE");
    expect(failure.message).toMatch(/maxItemBytes/);
    expect(await s.get("big")).toEqual({ v: "kept" });
  });

  it("lets through the largest value that fits, and the server stores it", async () => {
    const b = backend({ servers: [plain.address] });
    const key = `${uniquePrefix("max")}k`;
    let size = 1_048_576 - key.length - 96;
    expect(await b.set(key, "y".repeat(size), 60_000)).toBe("ok");
    expect((await b.get(key))?.length).toBe(size);
    size += 1;
    expect((await rejection(b.set(key, "z".repeat(size), 60_000))).code).toBe("TOO_LARGE");
    expect((await b.get(key))?.startsWith("y")).toBe(true);
  });

  it("follows a larger maxItemBytes to a server started with a larger -I", async () => {
    const s = store({ backend: memcachedBackend({ servers: [bigItems.address], maxItemBytes: 2 * 1024 * 1024 }), maxBytes: 4_000_000 });
    await s.set("big", { v: "x".repeat(1_500_000) });
    expect(((await s.get("big")) as { v: string }).v.length).toBe(1_500_000);
  });

  it("reports TOO_LARGE, and that memcached dropped the old value, when maxItemBytes is set above what the server accepts", async () => {
    const s = store({ backend: memcachedBackend({ servers: [plain.address], maxItemBytes: 4 * 1024 * 1024 }), maxBytes: 4_000_000 });
    await s.set("big", { v: "old" });
    const failure = await rejection(s.set("big", { v: "x".repeat(1_500_000) }));
    expect(failure.code).toBe("TOO_LARGE");
    expect(failure.message).toMatch(/dropped the session's previous value; lower maxItemBytes/);
    expect(await s.get("big")).toBeNull(); // memcached's own behaviour, which the pre-check exists to avoid
    // The node answered: it is not treated as dead.
    await s.set("after", { ok: 1 });
    expect(await s.get("after")).toEqual({ ok: 1 });
  });
});

describe("memcached: round trips (counted by the server's stats)", () => {
  const counters = ["cmd_get", "cmd_set", "cmd_touch", "cas_hits", "cas_badval"] as const;
  async function commandsOf(work: () => Promise<unknown>): Promise<Record<(typeof counters)[number], number>> {
    const before = await plain.stats();
    await work();
    const after = await plain.stats();
    return Object.fromEntries(counters.map((name) => [name, (after[name] ?? 0) - (before[name] ?? 0)])) as Record<(typeof counters)[number], number>;
  }

  it("reads with one GAT, and saves a loaded session with one REPLACE on its CAS token", async () => {
    const s = store({ backend: memcachedBackend({ servers: [plain.address] }) });
    await s.set("rt", { n: 1 });
    let loaded: Awaited<ReturnType<SessionStore["load"]>> = null;
    expect(await commandsOf(async () => (loaded = await s.load("rt")))).toEqual({ cmd_get: 0, cmd_set: 0, cmd_touch: 1, cas_hits: 0, cas_badval: 0 });
    expect(await commandsOf(() => s.save("rt", { n: 2 }, { previous: loaded }))).toEqual({ cmd_get: 0, cmd_set: 1, cmd_touch: 0, cas_hits: 1, cas_badval: 0 });
    expect(await s.get("rt")).toEqual({ n: 2 });
  });

  it("falls back to reading the item when another writer changed it since our read, and merges", async () => {
    const s = store({ backend: memcachedBackend({ servers: [plain.address] }) });
    const other = store({ backend: memcachedBackend({ servers: [plain.address] }), prefix: s.options.prefix });
    await s.set("rt2", { a: 0, b: 0 });
    const mine = await s.load("rt2");
    const theirs = await other.load("rt2");
    await other.save("rt2", { a: 0, b: 1 }, { previous: theirs });
    const counted = await commandsOf(() => s.save("rt2", { a: 1, b: 0 }, { previous: mine }));
    expect(counted.cas_badval).toBe(1); // our token was stale: the server refused it
    expect(await s.get("rt2")).toEqual({ a: 1, b: 1 });
  });
});

describe("memcached: what it cannot do", () => {
  it("rejects ids/length/clear with UNSUPPORTED and a reason, and never flushes the server", async () => {
    const s = store({ backend: memcachedBackend({ servers: [plain.address] }) });
    const neighbour = backend({ servers: [plain.address] });
    const foreign = `${uniquePrefix("other-app")}k`;
    await neighbour.set(foreign, "another application's data", 60_000);
    await s.set("mine", { a: 1 });
    const failure = await rejection(() => s.clear());
    expect(failure.code).toBe("UNSUPPORTED");
    expect(failure.message).toMatch(/cannot list keys/);
    expect(await neighbour.get(foreign)).toBe("another application's data");
    expect(await s.get("mine")).toEqual({ a: 1 });
    expect(s.backend.capabilities).toEqual({ scan: false, compareAndSet: true, userIndex: false, pubsub: false });
  });

  it("stores a session tagged with its user, but rejects the per-user listing with UNSUPPORTED", async () => {
    const s = store({ backend: memcachedBackend({ servers: [plain.address] }) });
    await s.set("tagged", { a: 1 }, { userId: "ada" });
    expect(await s.get("tagged")).toEqual({ a: 1 });
    expect((await rejection(s.sessionsOf("ada"))).code).toBe("UNSUPPORTED");
  });
});
